"""Supervisor of one job process: `python -m roboforge.service.launcher --job-dir D --attempt N -- CMD...`.

Runs CMD (the `roboforge train` process, or with `--kind export` the `roboforge export` of a finished
job) with stdout and stderr appended to `D/job.log`, asks it once to stop (SIGTERM: the trainer saves
a checkpoint and exits 130) when the launcher gets SIGTERM/SIGINT, when the service asks for it in
`D/stop.json` (a training job: the stop request of every executor, also on a Ray node, where a signal
would have to go through Ray) or when the optional owner process (`--stop-with PID`, default
`$ROBOFORGE_JOB_STOP_WITH`) ends, and when CMD ends writes its exit
record atomically: `D/exit.json` (`D/export_exit.json`) = `{"attempt", "returncode", "stop_requested",
"ended_at"}`. The service starts it in a session of its own, so the job outlives a service that is
killed and is re-attached on restart; the exit record tells the restarted service how the job ended.
Imports nothing heavy.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from roboforge.service import files
from roboforge.service.process import alive, start_token

LOG_NAME = files.LOG_NAME
STOP_WITH_ENV = "ROBOFORGE_JOB_STOP_WITH"
"""Environment variable with the pid of a process whose end stops the job (tests set their own pid)."""
POLL_S = 0.2
"""How often the launcher looks at its child, a stop request (signal or stop.json) and the owner process."""
OWNER_GRACE_S = 60.0
"""After the owner ended: seconds the child has to checkpoint and exit before it is killed."""
EXPORT_NICENESS = 10
"""Exports are background work: they yield the CPU to training jobs and the web process."""


@dataclass(frozen=True)
class Kind:
    """What the launcher runs: the names of its records and of the process in log lines."""

    pid_name: str
    exit_name: str
    what: str


KINDS = {
    "train": Kind(files.PID_NAME, files.EXIT_NAME, "training process"),
    "export": Kind(files.EXPORT_PID_NAME, files.EXPORT_EXIT_NAME, "export process"),
}


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _closing_line(what: str, returncode: int, stop_requested: bool) -> str:
    if returncode == 0:
        return f"{what} finished (exit code 0)"
    if returncode == 130 or (stop_requested and returncode < 0):
        return (
            f"{what} stopped on request (exit code {returncode}); resume continues from its last checkpoint"
        )
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"error: {what} was killed by {name} (exit code {returncode})"
    return f"error: {what} failed (exit code {returncode}); the error is printed above"


class StopRequest:
    """Set by SIGTERM/SIGINT; the launcher's main loop (never the handler) forwards it, exactly once."""

    def __init__(self) -> None:
        self.requested = False
        self.reason = ""

    def handler(self, signum, frame) -> None:
        if not self.requested:
            self.requested, self.reason = True, f"{signal.Signals(signum).name} received"

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self.handler)
        signal.signal(signal.SIGINT, self.handler)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)


def owner_of(stop_with: int | None) -> tuple[int, str | None] | None:
    """(pid, start token) of the owner process; a pid that is already gone gives (pid, None)."""
    if not stop_with:
        return None
    return stop_with, start_token(stop_with)


def owner_ended(owner: tuple[int, str | None] | None) -> bool:
    return owner is not None and not (owner[1] is not None and alive(*owner))


def supervise(
    child: subprocess.Popen,
    stop: StopRequest,
    owner: tuple[int, str | None] | None,
    log,
    requested: Callable[[], str | None] | None = None,
) -> int:
    """Wait for `child`; send it one SIGTERM when a stop is requested (a signal, or `requested()` returns
    the reason of the service's stop request) or the owner ends (and SIGKILL if it still runs
    OWNER_GRACE_S after its owner ended); its exit code."""
    forwarded, kill_at = False, None
    while True:
        try:
            return child.wait(timeout=POLL_S)
        except subprocess.TimeoutExpired:
            pass
        if not stop.requested and requested is not None and (reason := requested()):
            stop.requested, stop.reason = True, reason
        if kill_at is None and owner_ended(owner):
            kill_at = time.monotonic() + OWNER_GRACE_S
            if not stop.requested:
                stop.requested, stop.reason = True, f"owner process {owner[0]} ended"  # type: ignore[index]
        if stop.requested and not forwarded:
            forwarded = True
            log.write(f"[roboforge-launcher {_stamp()} UTC] stopping: {stop.reason}\n".encode())
            child.send_signal(signal.SIGTERM)
        if kill_at is not None and time.monotonic() > kill_at:
            child.kill()  # its owner is gone and it does not stop: nobody else would ever stop it


def run(
    job_dir: Path, attempt: int, cmd: list[str], kind: str = "train", stop_with: int | None = None
) -> int:
    """Run `cmd` for `attempt`, log its output and write the exit record; returns its exit code."""
    stop = StopRequest()
    stop.install()  # first: a stop that arrives while the child starts is forwarded once it exists
    names = KINDS[kind]
    if kind == "export":
        os.nice(EXPORT_NICENESS)
    job_dir.mkdir(parents=True, exist_ok=True)
    owner = owner_of(stop_with)
    # Who runs this attempt, for a service that dies before it has recorded the pid.
    files.write_json(
        job_dir / names.pid_name, {"attempt": attempt, "pid": os.getpid(), "token": start_token(os.getpid())}
    )
    with (job_dir / LOG_NAME).open("ab", buffering=0) as log:
        log.write(f"[roboforge-launcher {_stamp()} UTC] attempt {attempt}: {' '.join(cmd)}\n".encode())
        try:
            child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            returncode = supervise(child, stop, owner, log, _stop_file(job_dir, attempt, kind))
        except OSError as err:
            log.write(f"error: could not start the {names.what}: {err}\n".encode())
            returncode = 127
        closing = _closing_line(names.what, returncode, stop.requested)
        log.write(f"[roboforge-launcher {_stamp()} UTC] {closing}\n".encode())
    record = {"attempt": attempt, "returncode": returncode, "stop_requested": stop.requested,
              "ended_at": datetime.now(timezone.utc).isoformat()}  # fmt: skip
    files.write_json(job_dir / names.exit_name, record)
    return returncode


def _stop_file(job_dir: Path, attempt: int, kind: str) -> Callable[[], str | None] | None:
    """The poll of the service's stop request (`stop.json`) for a training attempt; None for exports."""
    if kind != "train":
        return None
    return lambda: files.read_stop(job_dir, attempt)


def env_pid(name: str) -> int | None:
    """The pid in environment variable `name`; None when unset or not a positive number."""
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m roboforge.service.launcher", description=__doc__)
    parser.add_argument("--job-dir", type=Path, required=True)
    parser.add_argument("--attempt", type=int, required=True)
    parser.add_argument("--kind", choices=sorted(KINDS), default="train")
    parser.add_argument("--stop-with", type=int, default=env_pid(STOP_WITH_ENV),
                        help=f"Stop the job when this process ends (default: ${STOP_WITH_ENV}).")  # fmt: skip
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("no command given after --")
    run(args.job_dir, args.attempt, cmd, args.kind, args.stop_with)
    return 0


if __name__ == "__main__":
    sys.exit(main())
