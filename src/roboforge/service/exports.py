"""Policy exports of finished jobs: `roboforge export TASK --checkpoint RUN --check` as a separate process.

A job that succeeds is exported at once; `POST /jobs/{id}/export` exports a stopped job on demand.
Each export runs under the launcher (`--kind export`: logged into the job's `job.log`, its own session,
`export_launcher.json`/`export_exit.json` records numbered 1, 2, ...), at a lower CPU priority. Its
outcome is an event of the job (`export N succeeded: ...` / `export N failed: ...`) and a log line; it
never changes the job's state. A restarted service picks up exports that still run or ended meanwhile.
"""

from __future__ import annotations

import logging
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roboforge.service import files, process
from roboforge.service.config import ServiceCfg
from roboforge.service.errors import JobConflict
from roboforge.service.jobspec import export_command, job_env, launcher_command
from roboforge.service.store import Job, Store

log = logging.getLogger("roboforge.service")


@dataclass
class Running:
    """An export in progress: its number, its launcher's pid and start token (and Popen if ours)."""

    job_id: str
    job_dir: Path
    number: int
    pid: int
    token: str | None
    child: subprocess.Popen | None = None


def last_number(job_dir: Path) -> int:
    """The number of the job's latest export (0 before the first)."""
    numbers = [
        int(record.get("attempt") or 0)
        for name in (files.EXPORT_PID_NAME, files.EXPORT_EXIT_NAME)
        if (record := files.read_json(job_dir / name)) is not None
    ]
    return max(numbers, default=0)


class Exports:
    """Starts exports and records how they end; `poll` is called by the runner's loop."""

    def __init__(self, store: Store, cfg: ServiceCfg):
        self.store, self.cfg = store, cfg
        self._running: dict[str, Running] = {}
        self._lock = threading.RLock()

    def running(self, job_id: str) -> bool:
        return job_id in self._running

    def start(self, job: Job) -> int:
        """Start exporting the job's latest checkpoint; its export number. JobConflict when it cannot."""
        job_dir = Path(job.job_dir)
        run_dir = files.find_run_dir(job_dir, job.task)
        with self._lock:
            if job.id in self._running:
                raise JobConflict(f"Job {job.id} is being exported already; wait for that export to end.")
            if run_dir is None or files.completed_iterations(run_dir) == 0:
                raise JobConflict(f"Job {job.id} has no checkpoint to export.")
            number = last_number(job_dir) + 1
            files.append_log(job_dir, f"export {number} started: {run_dir.name} -> {run_dir.name}/exported")
            cmd = launcher_command(job_dir, number, export_command(job, run_dir), kind="export")
            child = subprocess.Popen(
                cmd, cwd=job_dir, env=job_env(self.cfg.job_env), start_new_session=True,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            token = process.start_token(child.pid)
            self._running[job.id] = Running(job.id, job_dir, number, child.pid, token, child)
        self.store.note(job.id, f"export {number} started")
        log.info("exporting job %s (export %d, pid %d)", job.id, number, child.pid)
        return number

    def poll(self) -> None:
        """Record the exports that ended."""
        with self._lock:
            for run in list(self._running.values()):
                if run.child is not None:
                    run.child.poll()  # reap it if it ended
                record = files.read_exit(run.job_dir, run.number, files.EXPORT_EXIT_NAME)
                if record is None and not process.alive(run.pid, run.token):
                    record = files.read_exit(run.job_dir, run.number, files.EXPORT_EXIT_NAME)
                    record = record or {"returncode": None, "lost": True}
                if record is not None:
                    self._record(run, record)

    def _record(self, run: Running, record: dict[str, Any]) -> None:
        self._running.pop(run.job_id, None)
        rc = record.get("returncode")
        if rc == 0:
            onnx = sorted(p.relative_to(run.job_dir).as_posix() for p in run.job_dir.rglob("exported/*.onnx"))
            message = f"export {run.number} succeeded: {', '.join(onnx) or 'exported'}"
        elif record.get("lost"):
            message = f"export {run.number} failed: the export process ended without an exit record"
            files.append_log(run.job_dir, f"error: {message}")
        else:
            summary = files.failure_summary(run.job_dir / files.LOG_NAME, rc)
            message = f"export {run.number} failed: {summary}; the job's state is unchanged"
        self.store.note(run.job_id, message)
        log.info("job %s: %s", run.job_id, message)

    def recover(self, jobs: list[Job]) -> None:
        """After a restart: watch exports that still run, record those that ended while nobody watched."""
        for job in jobs:
            job_dir = Path(job.job_dir)
            launched = files.read_json(job_dir / files.EXPORT_PID_NAME)
            number = int(launched.get("attempt") or 0) if launched else 0
            if number == 0 or self._recorded(job.id, number):
                continue
            own = files.read_launcher(job_dir, number, files.EXPORT_PID_NAME)
            pid, token = own if own else (0, None)
            with self._lock:
                self._running[job.id] = Running(job.id, job_dir, number, pid, token)
        self.poll()

    def _recorded(self, job_id: str, number: int) -> bool:
        prefix = f"export {number} "
        return any(
            e.message.startswith(prefix) and not e.message.startswith(f"{prefix}started")
            for e in self.store.events(job_id)
        )
