"""The default executor: each attempt is a launcher process of this machine in a session of its own, so it
outlives a service that is killed; a pid plus its start time (process.py) finds it again after a restart."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

from roboforge.service import files, process
from roboforge.service.executors.base import Attempt, Handle
from roboforge.service.jobspec import job_env
from roboforge.service.store import Job


class LocalExecutor:
    """Launcher processes of this machine, with the service's environment (less its token)."""

    name = "local"
    record_grace_s = 0.0
    stop_means = "SIGTERM"
    kill_means = "SIGKILL"

    def __init__(self) -> None:
        self._children: dict[int, subprocess.Popen] = {}
        """The launchers this service started, so their exit is reaped (no zombies)."""

    def ping(self) -> None:
        return None

    def reserve(self, job_id: str, attempt: int) -> Handle:
        return Handle()  # the pid is known once the process exists (or from launcher.json, `adopt`)

    def start(self, attempt: Attempt) -> Handle:
        """Popen the launcher in its job folder, in a new session (OSError when it cannot start)."""
        child = subprocess.Popen(
            attempt.command, cwd=attempt.job_dir, env=job_env(attempt.env), start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._children[child.pid] = child
        return Handle(pid=child.pid, pid_token=process.start_token(child.pid))

    def adopt(self, job: Job) -> Handle:
        """The recorded pid, else the one the launcher wrote (the service died between starting it and
        recording its pid)."""
        if job.pid is None and (own := files.read_launcher(Path(job.job_dir), job.attempt)):
            return Handle(pid=own[0], pid_token=own[1])
        return Handle.of(job)

    def alive(self, handle: Handle) -> bool:
        child = self._children.get(handle.pid or 0)
        if child is not None and child.poll() is not None:  # reap it if it ended
            self._children.pop(child.pid, None)
        return process.alive(handle.pid, handle.pid_token)

    def describe(self, handle: Handle) -> str:
        return f"job process {handle.pid}"

    def request_stop(self, handle: Handle) -> None:
        """SIGTERM to the launcher (it forwards one SIGTERM to the trainer, which checkpoints)."""
        process.send(handle.pid, handle.pid_token, signal.SIGTERM)

    def kill(self, handle: Handle) -> None:
        """SIGKILL to the launcher's process group (launcher and trainer)."""
        process.send(handle.pid, handle.pid_token, signal.SIGKILL, group=True)

    def clean_up(self, handle: Handle) -> None:
        """SIGKILL to what is left of the launcher's process group (the launcher itself is gone)."""
        if handle.pid:
            with contextlib.suppress(OSError):
                os.killpg(handle.pid, signal.SIGKILL)
            self._children.pop(handle.pid, None)

    def end_reason(self, handle: Handle) -> str | None:
        return None
