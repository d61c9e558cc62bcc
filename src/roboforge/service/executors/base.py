"""What the runner asks of an executor: start a job's attempt, tell whether it still runs, stop it, and
find it again after a restart.

An attempt is always the same launcher command (launcher.py), on this machine (`local`) or on a Ray node
(`ray`); the launcher writes `job.log` and the exit record `exit.json` in the job folder and polls the
stop request `stop.json`, so how an attempt ended, its log and its files never depend on the executor.
The executor only starts the command, reports whether it still runs, forwards stops the launcher cannot
see by itself, and names the attempt in a `Handle` that the job's database row and `job.json` keep.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from roboforge.service.store import Job
from roboforge.utils.errors import UserInputError


class ExecutorUnavailable(UserInputError):
    """The executor cannot be reached (a Ray cluster that does not answer): at start one line and exit 2;
    while the service runs the runner waits and asks again."""


class ExecutorRefused(RuntimeError):
    """The executor refused an attempt (a submission Ray rejects): the job fails with this message."""


@dataclass(frozen=True)
class Attempt:
    """One attempt of a job, as an executor runs it."""

    job_id: str
    job_dir: Path
    attempt: int
    command: list[str]
    """The launcher command (`jobspec.launcher_command`), the same on every executor."""
    env: dict[str, str]
    """Variables the service sets for the job (`jobspec.job_vars`)."""
    num_cpus: int
    """The cores the job uses (its threads); what a Ray job reserves."""
    num_gpus: int
    """The GPUs the job trains on; what a Ray job reserves."""


@dataclass(frozen=True)
class Handle:
    """How the service finds an attempt again: a process of this machine (pid and start token) or a Ray job
    (its submission id). Kept in the job's database row and job.json."""

    pid: int | None = None
    pid_token: str | None = None
    submission_id: str | None = None

    @classmethod
    def of(cls, job: Job) -> Handle:
        return cls(job.pid, job.pid_token, job.submission_id)

    def values(self) -> dict[str, Any]:
        """The job fields that hold this handle (for `Store.update` / `transition`)."""
        return {"pid": self.pid, "pid_token": self.pid_token, "submission_id": self.submission_id}


class Executor(Protocol):
    """Runs job attempts somewhere; every method is quick (no waiting for a job)."""

    name: str
    """`local` or `ray` (`ServiceCfg.executor`)."""
    record_grace_s: float
    """Seconds an attempt that ended may take to show its exit record (shared storage caches files)."""
    stop_means: str
    """How `request_stop` reaches the attempt, for the job's log ('SIGTERM', ...)."""
    kill_means: str
    """How `kill` ends it, for the job's log."""

    def ping(self) -> None:
        """ExecutorUnavailable when attempts cannot be started now."""
        ...

    def reserve(self, job_id: str, attempt: int) -> Handle:
        """What names the attempt before it starts (recorded first, so a restart finds an attempt whose start
        the service did not see return)."""
        ...

    def start(self, attempt: Attempt) -> Handle:
        """Start the attempt; OSError or ExecutorRefused when it cannot start, ExecutorUnavailable when the
        executor does not answer."""
        ...

    def adopt(self, job: Job) -> Handle:
        """The handle of a job recorded as running, completed from the launcher's files where the service died
        before recording it."""
        ...

    def alive(self, handle: Handle) -> bool:
        """True while the attempt runs or waits to run."""
        ...

    def describe(self, handle: Handle) -> str:
        """The attempt in words, for logs: 'job process 123', 'Ray job ...'."""
        ...

    def request_stop(self, handle: Handle) -> None:
        """Help the launcher see a stop request (the runner has written stop.json); never kills training."""
        ...

    def kill(self, handle: Handle) -> None:
        """End the attempt now, launcher and trainer (no checkpoint)."""
        ...

    def clean_up(self, handle: Handle) -> None:
        """Stop whatever is left of an attempt that ended without an exit record."""
        ...

    def end_reason(self, handle: Handle) -> str | None:
        """Why an attempt ended without an exit record, as far as the executor knows."""
        ...
