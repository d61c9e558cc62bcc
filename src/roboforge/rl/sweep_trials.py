"""Where a sweep's trial trains: a process on this machine (default) or a job of a Ray cluster.

A trial is one `roboforge train` command writing into the sweep folder. `rl/sweep.py` starts it through a
`TrialLauncher`, polls it, reads its `metrics.jsonl` for Optuna and stops it when it is pruned or the sweep
is interrupted:
- `LocalTrials(parallel)`: each trial a child process in a session of its own, with 1/`parallel` of the
  sweep's host-memory share (utils/host_memory.py); a stop is SIGINT (the trainer saves a checkpoint and
  ends), SIGKILL two minutes later if it still runs.
- `RayTrials(address)`: each trial a job of the Ray cluster whose Jobs API is at `address`, submitted with
  the GPUs and cores a trial needs, so trials spread over the cluster's nodes. Its log and run folder are
  written into the sweep folder, which must therefore be on storage every Ray node sees at the same path
  (one machine, or a shared file system), like the service's Ray jobs. A stop is Ray's `stop_job`: SIGTERM
  (the trainer saves a checkpoint), then SIGKILL after the head's `RAY_JOB_STOP_WAIT_TIME_S` (3 s by default).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Protocol

STOP_WAIT_S = 120.0
"""How long a stopped trial may take to save its checkpoint and end before it is killed."""


class TrialProcess(Protocol):
    """A running trial."""

    def poll(self) -> int | None:
        """Its exit code once it ended, else None."""
        ...

    def interrupt(self) -> None:
        """Ask it to stop (it saves a checkpoint) and wait up to STOP_WAIT_S for it to end."""
        ...

    def kill(self) -> None:
        """End it now if it still runs."""
        ...


class TrialLauncher(Protocol):
    """Starts trial `number`'s `command` in `cwd`, its output into `log`."""

    def __call__(self, command: list[str], cwd: Path, log: Path, number: int) -> TrialProcess: ...


class LocalTrial:
    """A trial as a child process of the sweep, with `env` added to the sweep's environment."""

    def __init__(self, command: list[str], cwd: Path, log: Path, env: dict[str, str] | None = None):
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            command, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **(env or {})},
        )  # fmt: skip

    def poll(self) -> int | None:
        return self.proc.poll()

    def interrupt(self) -> None:
        os.killpg(self.proc.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):  # past the wait, kill() ends it
            self.proc.wait(timeout=STOP_WAIT_S)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._log.close()


class LocalTrials:
    """Launches trials as processes of this machine, `parallel` at a time: each may fill 1/`parallel` of the
    memory the sweep itself may (its ceiling, utils/host_memory.py), so trials side by side fail with one
    out-of-memory line each instead of meeting the OOM killer together."""

    def __init__(self, parallel: int = 1):
        from roboforge.utils.host_memory import shared_by

        self.env = shared_by(parallel)

    def __call__(self, command: list[str], cwd: Path, log: Path, number: int) -> LocalTrial:
        return LocalTrial(command, cwd, log, self.env)


EXIT_CODES = {"SUCCEEDED": 0, "FAILED": 1, "STOPPED": -signal.SIGTERM}
"""Ray's end states as exit codes (a stopped job got SIGTERM)."""


class RayTrial:
    """A trial as a Ray job, known by its submission id. A cluster that stops answering is a one-line
    `RayUnreachable`, which ends the sweep (every later trial would fail alike)."""

    def __init__(self, client: Any, address: str, submission_id: str):
        self.client, self.address, self.submission_id = client, address, submission_id

    def _call(self, what: str, *args: Any) -> Any:
        from roboforge.utils.ray_jobs import call

        return call(self.client, self.address, what, *args)

    def poll(self) -> int | None:
        status = str(self._call("get_job_status", self.submission_id).value)
        return EXIT_CODES.get(status)

    def interrupt(self) -> None:
        self.kill()
        deadline = time.monotonic() + STOP_WAIT_S
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)

    def kill(self) -> None:
        from roboforge.utils.ray_jobs import not_found

        if self.poll() is not None:
            return
        try:
            self._call("stop_job", self.submission_id)
        except RuntimeError as err:
            if not not_found(err):
                raise


class RayTrials:
    """Launches trials as jobs of the Ray cluster at `address`, each asking for `num_gpus` GPUs and
    `num_cpus` cores; submission ids `<sweep folder name>-trial-<n>`."""

    def __init__(self, address: str, sweep_name: str, num_gpus: float, num_cpus: float = 1.0):
        from roboforge.utils.errors import UserInputError
        from roboforge.utils.ray_jobs import JobsClient, unreachable

        self.address, self.sweep_name = address, sweep_name
        self.num_gpus, self.num_cpus = num_gpus, num_cpus
        try:
            self.client = JobsClient(address)
        except Exception as err:  # refused, timed out, not a Ray dashboard: one line for the user
            raise UserInputError(f"--ray-address: {unreachable(address, err)}") from err

    def __call__(self, command: list[str], cwd: Path, log: Path, number: int) -> RayTrial:
        from roboforge.utils.ray_jobs import call

        submission_id = f"{self.sweep_name}-trial-{number}"
        line = f"cd {shlex.quote(str(cwd))} && exec {shlex.join(command)} > {shlex.quote(str(log))} 2>&1"
        call(
            self.client,
            self.address,
            "submit_job",
            entrypoint=line,
            submission_id=submission_id,
            runtime_env={"env_vars": _forwarded_env()},
            entrypoint_num_cpus=self.num_cpus,
            entrypoint_num_gpus=self.num_gpus,
            metadata={"roboforge_sweep": self.sweep_name, "trial": str(number)},
        )
        return RayTrial(self.client, self.address, submission_id)


FORWARDED = ("MENAGERIE_ROOT", "PYTHONPATH", "MUJOCO_GL", "WARP_CACHE_PATH")
"""Variables of the sweep's environment its Ray trials get too (where the robots and the code are)."""


def _forwarded_env() -> dict[str, str]:
    return {name: os.environ[name] for name in FORWARDED if name in os.environ}
