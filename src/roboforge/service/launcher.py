"""Supervisor of one job attempt: `python -m roboforge.service.launcher --job-dir D --attempt N -- CMD...`.

Runs CMD (the `roboforge train` process) with stdout and stderr appended to `D/job.log`, forwards the
first SIGTERM/SIGINT to it (the trainer then saves a checkpoint and exits 130), and when it ends
writes `D/exit.json` atomically: `{"attempt", "returncode", "ended_at"}`. The service starts it in a
session of its own, so the job outlives a service that is killed and is re-attached on restart; the
exit record tells the restarted service how the job ended. Imports nothing heavy.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from roboforge.service.process import start_token

LOG_NAME = "job.log"
EXIT_NAME = "exit.json"
PID_NAME = "launcher.json"


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _write_json(path: Path, record: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(record, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _closing_line(returncode: int, stop_requested: bool) -> str:
    if returncode == 0:
        return "training process finished (exit code 0)"
    if returncode == 130 or (stop_requested and returncode < 0):
        return f"training process stopped on request (exit code {returncode}); resume continues from its last checkpoint"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"error: training process was killed by {name} (exit code {returncode})"
    return f"error: training process failed (exit code {returncode}); the error is printed above"


def run(job_dir: Path, attempt: int, cmd: list[str]) -> int:
    """Run `cmd` for `attempt`, log its output and write the exit record; returns its exit code."""
    job_dir.mkdir(parents=True, exist_ok=True)
    # Who runs this attempt, for a service that dies before it has recorded the pid.
    _write_json(
        job_dir / PID_NAME, {"attempt": attempt, "pid": os.getpid(), "token": start_token(os.getpid())}
    )
    stop_requested = False
    child: subprocess.Popen | None = None

    def forward(signum, frame):
        nonlocal stop_requested
        if stop_requested:
            return  # a second signal would break the checkpoint being written
        stop_requested = True
        if child is not None:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    with (job_dir / LOG_NAME).open("ab", buffering=0) as log:
        log.write(f"[roboforge-launcher {_stamp()} UTC] attempt {attempt}: {' '.join(cmd)}\n".encode())
        try:
            child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            if stop_requested:  # asked to stop before the child existed
                child.send_signal(signal.SIGTERM)
            returncode = child.wait()
        except OSError as err:
            log.write(f"error: could not start the training process: {err}\n".encode())
            returncode = 127
        log.write(
            f"[roboforge-launcher {_stamp()} UTC] {_closing_line(returncode, stop_requested)}\n".encode()
        )
    _write_json(
        job_dir / EXIT_NAME,
        {
            "attempt": attempt,
            "returncode": returncode,
            "stop_requested": stop_requested,
            "ended_at": datetime.now(timezone.utc).isoformat(),
        },
    )
    return returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m roboforge.service.launcher", description=__doc__)
    parser.add_argument("--job-dir", type=Path, required=True)
    parser.add_argument("--attempt", type=int, required=True)
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("no command given after --")
    run(args.job_dir, args.attempt, cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
