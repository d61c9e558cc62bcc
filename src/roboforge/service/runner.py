"""The job runner: a thread of the service that starts queued jobs as separate processes and watches them.

Each attempt runs `python -m roboforge.service.launcher ... -- python -m roboforge train ...` in a
session of its own (no training in the web process). The runner reads progress from the run's
`metrics.jsonl`, finishes jobs from the launcher's `exit.json` (a job that did not succeed counts the
iterations its checkpoints hold, which is where a resume continues), exports the policy of a job that
succeeded (exports.py), keeps each job's `job.json` up to date (records.py), and on startup restores
jobs its database lacks from their folders (recovery.py), re-attaches jobs whose process still lives
and marks the others `interrupted` (resumable from their last checkpoint).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

from roboforge.service import files, process, records, recovery
from roboforge.service.config import ServiceCfg
from roboforge.service.errors import JobConflict, JobNotFound
from roboforge.service.exports import Exports
from roboforge.service.jobspec import RunProgress, cpu_share, job_env, launcher_command, train_command
from roboforge.service.outcome import attempt_outcome, completed_iterations
from roboforge.service.store import TERMINAL, Job, Store, utcnow

__all__ = ["JobConflict", "JobNotFound", "JobRunner"]
log = logging.getLogger("roboforge.service")


class JobRunner:
    """Starts, watches, cancels and resumes jobs; all state goes through the Store."""

    def __init__(self, store: Store, cfg: ServiceCfg):
        self.store, self.cfg = store, cfg
        self.exports = Exports(store, cfg)
        self._children: dict[str, subprocess.Popen] = {}
        self._progress: dict[str, RunProgress] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self.cfg.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="roboforge-job-runner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (the job processes keep running; a restarted service re-attaches them)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # keep the runner alive; the next tick retries
                log.exception("job runner tick failed")
            self._wake.wait(self.cfg.poll_interval_s)
            self._wake.clear()

    def tick(self) -> None:
        """Check the running jobs, then start queued ones up to the concurrency limit."""
        with self._lock:
            for job in self.store.list(["running"], limit=10_000):
                self._check(job)
            free = self.cfg.max_concurrent - self.store.count(["running"])
            for job in self.store.queued(max(free, 0)):
                self._spawn(job)
        self.exports.poll()

    def recover(self) -> None:
        """After a (re)start: restore jobs the database lacks from their folders, then finish, re-attach
        or interrupt the jobs that are running, and watch the exports that were."""
        with self._lock:
            recovery.restore_missing(self.store, self.cfg.jobs_dir)
            recovery.write_missing_records(self.store, self.store.list(limit=100_000))
            for job in self.store.list(["running"], limit=10_000):
                self._recover(job)
            self.exports.recover(self.store.list(TERMINAL, limit=100_000))

    def _recover(self, job: Job) -> None:
        job_dir = Path(job.job_dir)
        record = files.read_exit(job_dir, job.attempt)
        if job.pid is None and (own := files.read_launcher(job_dir, job.attempt)):
            # the service died between starting the launcher and recording its pid
            job.pid, job.pid_token = own
            self._update(job.id, pid=own[0], pid_token=own[1])
        if record is not None:
            self._finish(job, record)
        elif process.alive(job.pid, job.pid_token):
            files.append_log(job_dir, f"service restarted; re-attached to job process {job.pid}")
            log.info("re-attached job %s (pid %s)", job.id, job.pid)
        else:
            self._update_progress(job)
            state = "cancelled" if job.cancel_requested else "interrupted"
            message = (
                "the service stopped while the job ran and the job's process is gone; "
                "POST /jobs/{id}/resume continues from its last checkpoint"
            )
            done = self._transition(job, state, message, finished_at=utcnow(), pid=None,
                                    iteration=self._completed(job, state))  # fmt: skip
            if done:
                files.append_log(job_dir, f"{state}: {message}")

    # ---- requests from the API ----------------------------------------------------------------
    def submit(self, job: Job) -> Job:
        """Queue a new job: its folder and job.json first, so a full disk leaves nothing half-made."""
        job_dir = Path(job.job_dir)
        job.status, job.created_at = "queued", utcnow()
        try:
            files.append_log(job_dir, f"queued job {job.id}: {job.task}, {job.num_iterations} iterations")
            records.write_record(job)
            created = self.store.create(job)
        except BaseException:
            shutil.rmtree(job_dir, ignore_errors=True)  # no record may outlive a job that was refused
            raise
        self.wake()
        return created

    def cancel(self, job_id: str, force: bool = False) -> Job:
        """Cancel a queued job at once; ask a running one to stop (it saves a checkpoint first)."""
        with self._lock:
            job = self._get(job_id)
            if job.status == "queued":
                done = self._transition(job, "cancelled", "cancelled while queued", finished_at=utcnow())
                if done:
                    files.append_log(Path(job.job_dir), "cancelled while queued")
                    return done
                job = self._get(job_id)
            if job.status != "running":
                raise JobConflict(
                    f"Job {job_id} is {job.status}; only queued or running jobs can be cancelled."
                )
            self._update(job_id, cancel_requested=True)
            sig = signal.SIGKILL if force else signal.SIGTERM
            files.append_log(Path(job.job_dir), f"cancel requested ({signal.Signals(sig).name})")
            process.send(job.pid, job.pid_token, sig, group=force)
        self.wake()
        return self._get(job_id)

    def resume(self, job_id: str, num_iterations: int | None = None) -> Job:
        """Queue a stopped job again; it continues from its last checkpoint."""
        with self._lock:
            job = self._get(job_id)
            if job.status not in TERMINAL:
                raise JobConflict(f"Job {job_id} is {job.status}; only a stopped job can be resumed.")
            total = num_iterations or job.num_iterations
            completed = self._completed(job, job.status)
            if total <= completed:
                raise JobConflict(
                    f"Job {job_id} already completed {completed} of {total} iterations; "
                    "pass a larger num_iterations to train further."
                )
            files.append_log(Path(job.job_dir), f"resume requested ({total} iterations in total)")
            done = self._transition(
                job, "queued", f"resume requested ({total} iterations in total)",
                resume_requested=True, cancel_requested=False, num_iterations=total,
                error=None, returncode=None, finished_at=None, iteration=completed,
            )  # fmt: skip
            if done is None:
                raise JobConflict(f"Job {job_id} changed state meanwhile; try again.")
        self.wake()
        return done

    def export(self, job_id: str) -> int:
        """Export a stopped job's latest checkpoint (a separate process); the export's number."""
        with self._lock:
            job = self._get(job_id)
            if job.status not in TERMINAL:
                raise JobConflict(f"Job {job_id} is {job.status}; export it when it has stopped.")
            return self.exports.start(job)

    def _get(self, job_id: str) -> Job:
        job = self.store.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    # ---- starting and watching ----------------------------------------------------------------
    def _spawn(self, job: Job) -> None:
        job_dir = Path(job.job_dir)
        job_dir.mkdir(parents=True, exist_ok=True)
        attempt = job.attempt + 1
        run_dir = files.find_run_dir(job_dir, job.task)
        completed = files.completed_iterations(run_dir) if job.resume_requested else 0
        resume_from = run_dir if completed else None
        claimed = self._transition(
            job, "running",
            f"attempt {attempt} started" + (f", resuming {resume_from.name}" if resume_from else ""),
            attempt=attempt, started_at=utcnow(), finished_at=None, pid=None, pid_token=None,
            run_dir=str(resume_from) if resume_from else None, iteration=completed,
        )  # fmt: skip
        if claimed is None:
            return  # someone else took it
        if resume_from is not None:
            files.repair_metrics_tail(resume_from)
            self._progress[job.id] = RunProgress(resume_from, skip_existing=True)  # this attempt's records
        elif job.resume_requested:
            files.append_log(job_dir, "no checkpoint to resume from; training starts from scratch")
        launcher = launcher_command(
            job_dir, attempt, train_command(job, resume_from, cpu_share(self.cfg.max_concurrent))
        )
        try:
            child = subprocess.Popen(
                launcher, cwd=job_dir, env=job_env(self.cfg.job_env), start_new_session=True,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        except OSError as err:
            files.append_log(job_dir, f"error: could not start the job process: {err}")
            self._transition(claimed, "failed", str(err), error=str(err), finished_at=utcnow())
            return
        self._children[job.id] = child
        self._update(job.id, pid=child.pid, pid_token=process.start_token(child.pid))
        log.info("started job %s attempt %d (pid %d)", job.id, attempt, child.pid)

    def _check(self, job: Job) -> None:
        job_dir = Path(job.job_dir)
        self._update_progress(job)
        child = self._children.get(job.id)
        if child is not None:
            child.poll()  # reap it if it ended
        record = files.read_exit(job_dir, job.attempt)
        if record is None and job.pid is not None and not process.alive(job.pid, job.pid_token):
            record = files.read_exit(job_dir, job.attempt) or {"returncode": None, "lost": True}
        if record is not None:
            self._finish(job, record)

    def _finish(self, job: Job, record: dict[str, Any]) -> None:
        job_dir = Path(job.job_dir)
        self._update_progress(job)
        if record.get("lost") and job.pid:  # the launcher died without a record: stop what is left of it
            with contextlib.suppress(OSError):
                os.killpg(job.pid, signal.SIGKILL)
        rc = record.get("returncode")
        state, error = attempt_outcome(job, record)
        done = self._transition(
            job, state, error or f"exit code {rc}", returncode=rc, error=error, finished_at=utcnow(),
            pid=None, resume_requested=False, iteration=self._completed(job, state),
        )  # fmt: skip
        if done is not None and error and record.get("lost"):
            files.append_log(job_dir, f"error: {error}")
        self._children.pop(job.id, None)
        self._progress.pop(job.id, None)
        log.info("job %s %s (exit code %s)", job.id, state, rc)
        if done is not None and state == "succeeded":
            self._export_after_success(done)

    def _export_after_success(self, job: Job) -> None:
        try:
            self.exports.start(job)
        except Exception as err:  # the job succeeded; a failed export is recorded, never fatal
            log.warning("could not export job %s: %s", job.id, err)
            self.store.note(job.id, f"export failed: {err}")

    def _completed(self, job: Job, state: str) -> int:
        """Iterations the job holds in `state` (outcome.completed_iterations, with its latest progress)."""
        return completed_iterations(self.store.get(job.id) or job, state)

    def _transition(self, job: Job, state: str, message: str, **values: Any) -> Job | None:
        """Move the job from its current state to `state` (compare-and-set), then rewrite its job.json."""
        done = self.store.transition(job.id, [job.status], state, message, **values)
        if done is not None:
            self._record(done)
        return done

    def _update(self, job_id: str, **values: Any) -> None:
        """Set fields of a running job that job.json keeps (pid, cancel request) and rewrite it."""
        if self.store.update(job_id, ["running"], **values) and (job := self.store.get(job_id)):
            self._record(job)

    def _record(self, job: Job) -> None:
        try:
            records.write_record(job)
        except Exception as err:  # the database has the change; job.json catches up on the next one
            log.warning("could not write %s of job %s: %s", records.RECORD_NAME, job.id, err)

    def _update_progress(self, job: Job) -> None:
        run_dir = files.find_run_dir(Path(job.job_dir), job.task)
        if run_dir is None:
            return
        progress = self._progress.get(job.id)
        if progress is None or progress.run_dir != run_dir:
            progress = self._progress[job.id] = RunProgress(run_dir)
        metrics = progress.read()
        values: dict[str, Any] = {}
        if job.run_dir != str(run_dir):
            values["run_dir"] = str(run_dir)
        if metrics:
            values.update(iteration=metrics[-1]["iteration"] + 1, latest_metrics=metrics[-1])
            if progress.s_per_iteration is not None:
                values["s_per_iteration"] = progress.s_per_iteration
        if values:
            self.store.update(job.id, ["running"], **values)
