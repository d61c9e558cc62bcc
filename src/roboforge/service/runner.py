"""The job runner: a thread of the service that starts queued jobs on its executor and watches them.

Each attempt runs `python -m roboforge.service.launcher ... -- python -m roboforge train ...` (no
training in the web process) on the service's executor (executors/): a process of this machine in a
session of its own, or a job of a Ray cluster. The runner reads progress from the run's
`metrics.jsonl`, finishes jobs from the launcher's `exit.json` (a job that did not succeed counts the
iterations its checkpoints hold, which is where a resume continues), stops jobs through `stop.json`
(plus the executor's own signal), exports the policy of a job that succeeded (exports.py), keeps each
job's `job.json` up to date (records.py), and on startup restores jobs its database lacks from their
folders (recovery.py), re-attaches jobs whose attempt still runs and marks the others `interrupted`
(resumable from their last checkpoint). A sweep (sweeps.py) is a job whose attempt runs `roboforge sweep`
instead of `roboforge train`; its progress is its `sweep.json`, and it is neither resumed nor exported.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from roboforge.service import files, limits, records, recovery, sweeps
from roboforge.service.config import ServiceCfg
from roboforge.service.deadlines import STOP_GRACE_S, AttemptDeadlines
from roboforge.service.errors import JobConflict, JobNotFound
from roboforge.service.executors import (
    Attempt,
    Executor,
    ExecutorRefused,
    ExecutorUnavailable,
    Handle,
    LocalExecutor,
    make_executor,
)
from roboforge.service.exports import Exports
from roboforge.service.jobspec import attempt_vars, cpu_share, launcher_command, train_command
from roboforge.service.outcome import attempt_outcome, completed_iterations
from roboforge.service.progress import JobProgress
from roboforge.service.store import TERMINAL, Job, Store, utcnow

__all__ = ["JobConflict", "JobNotFound", "JobRunner"]
log = logging.getLogger("roboforge.service")
WARN_EVERY_S = 60.0
"""An executor that does not answer is logged at most this often."""


class JobRunner:
    """Starts, watches, cancels and resumes jobs; all state goes through the Store."""

    def __init__(self, store: Store, cfg: ServiceCfg, executor: Executor | None = None):
        """`executor`: default, the one `cfg` names (connecting to a Ray cluster raises
        ExecutorUnavailable when it does not answer)."""
        self.store, self.cfg = store, cfg
        self.exports = Exports(store, cfg)
        self.executor = executor or make_executor(cfg)
        self._local = self.executor if isinstance(self.executor, LocalExecutor) else LocalExecutor()
        """Follows jobs started as processes of this machine (also after a switch to another executor)."""
        self.progress = JobProgress(store)
        self.deadlines = AttemptDeadlines()
        self._warned_at = -WARN_EVERY_S
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
            queued = self.store.queued(max(free, 0))
            if queued and self._ready():
                for job in queued:
                    self._spawn(job)
        self.exports.poll()

    def _ready(self) -> bool:
        """Whether the executor can start attempts now (a Ray cluster that does not answer: not yet)."""
        try:
            self.executor.ping()
        except ExecutorUnavailable as err:
            self._unavailable(err)
            return False
        return True

    def _unavailable(self, err: ExecutorUnavailable) -> None:
        """Log that the executor does not answer (at most every WARN_EVERY_S); the jobs wait for it."""
        if time.monotonic() - self._warned_at >= WARN_EVERY_S:
            self._warned_at = time.monotonic()
            log.warning("%s; running jobs are left as they are and queued ones wait", err)

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
        executor = self._executor_of(job)
        if record is not None:
            self._finish(job, record)
            return
        if executor is None:
            self._orphan(job)
            return
        handle = executor.adopt(job)
        if handle != Handle.of(job):  # the service died between starting the attempt and recording it
            self._update(job.id, **handle.values())
            job = self.store.get(job.id) or job
        try:
            alive = executor.alive(handle)
        except ExecutorUnavailable as err:
            self._unavailable(err)  # the runner's checks decide once the executor answers
            return
        if alive:
            files.append_log(job_dir, f"service restarted; re-attached to {executor.describe(handle)}")
            log.info("re-attached job %s (%s)", job.id, executor.describe(handle))
        else:
            self.progress.update(job)
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
            self._ask_stop(job, force)
        self.wake()
        return self._get(job_id)

    def _ask_stop(self, job: Job, force: bool) -> None:
        """Ask the running job to stop: stop.json (its launcher polls it, on any executor) and the executor's
        own stop (SIGTERM), or with `force` the executor's kill (no checkpoint)."""
        job_dir = Path(job.job_dir)
        executor = self._executor_of(job) or self._local  # no executor follows it: stop.json alone reaches it
        files.write_stop(job_dir, job.attempt, "cancel requested")
        files.append_log(
            job_dir, f"cancel requested ({executor.kill_means if force else executor.stop_means})"
        )
        self.deadlines.stop_asked(job.id)
        try:
            if force:
                executor.kill(Handle.of(job))
            else:
                executor.request_stop(Handle.of(job))
        except ExecutorUnavailable as err:  # stop.json stays: the launcher stops the job when it reads it
            files.append_log(job_dir, f"could not reach the executor: {err}")

    def resume(self, job_id: str, num_iterations: int | None = None) -> Job:
        """Queue a stopped job again; it continues from its last checkpoint."""
        with self._lock:
            job = self._get(job_id)
            if job.kind == "sweep":
                raise JobConflict(
                    f"Job {job_id} is a sweep; sweeps cannot be resumed: POST /sweeps starts a new one."
                )
            if job.status not in TERMINAL:
                raise JobConflict(f"Job {job_id} is {job.status}; only a stopped job can be resumed.")
            total = num_iterations or job.num_iterations
            completed = self._completed(job, job.status)
            if total <= completed:
                raise JobConflict(
                    f"Job {job_id} already completed {completed} of {total} iterations; "
                    "pass a larger num_iterations to train further."
                )
            too_many_clips = limits.video_interval_problem(total, job.video_interval)
            if too_many_clips is not None:
                raise JobConflict(f"Job {job_id}: {too_many_clips}")
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
            if job.kind == "sweep":
                raise JobConflict(
                    f"Job {job_id} is a sweep; export a trial's run with `roboforge export` (GET "
                    "/jobs/{id}/artifacts lists them) or train its best params as a job."
                )
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
            attempt=attempt, started_at=utcnow(), finished_at=None,
            run_dir=str(resume_from) if resume_from else None, iteration=completed,
            **self.executor.reserve(job.id, attempt).values(),
        )  # fmt: skip
        if claimed is None:
            return  # someone else took it
        if resume_from is not None:
            files.repair_metrics_tail(resume_from)
            self.progress.resume(job.id, resume_from)  # this attempt's records
        elif job.resume_requested:
            files.append_log(job_dir, "no checkpoint to resume from; training starts from scratch")
        try:
            handle = self.executor.start(self._attempt(claimed, resume_from))
        except ExecutorUnavailable as err:  # maybe submitted: the checks find out by its reserved handle
            files.append_log(job_dir, f"could not reach the executor while starting the job: {err}")
            self._unavailable(err)
            return
        except (OSError, ExecutorRefused) as err:
            files.append_log(job_dir, f"error: could not start the job process: {err}")
            self._transition(claimed, "failed", str(err), error=str(err), finished_at=utcnow())
            return
        self._update(job.id, **handle.values())
        log.info("started job %s attempt %d (%s)", job.id, attempt, self.executor.describe(handle))

    def _attempt(self, job: Job, resume_from: Path | None) -> Attempt:
        """What the executor runs for the job's current attempt: the launcher command and its resources."""
        cores, gpus = cpu_share(self.cfg.max_concurrent), job.num_gpus or 0
        if job.kind == "sweep":
            ray = self.cfg.ray_url if self.cfg.executor == "ray" else None
            work = sweeps.sweep_command(job, cores, self.cfg.task_modules, ray)
            gpus = 0 if ray else gpus  # on Ray the trials ask for their GPUs, the sweep itself holds none
        else:
            work = train_command(job, resume_from, cores, self.cfg.task_modules)
        command = launcher_command(Path(job.job_dir), job.attempt, work)
        return Attempt(job_id=job.id, job_dir=Path(job.job_dir), attempt=job.attempt, command=command,
                       env=attempt_vars(self.cfg), num_cpus=cores, num_gpus=gpus)  # fmt: skip

    def _executor_of(self, job: Job) -> Executor | None:
        """The executor that runs the job's attempt: a Ray job's is this service's Ray executor (None when it
        has none), any other's the local one."""
        if job.submission_id:
            return self.executor if self.executor.name == "ray" else None
        return self._local

    def _orphan(self, job: Job) -> None:
        """A Ray job while this service runs no Ray executor: ask it to stop (stop.json) and mark it interrupted."""
        job_dir = Path(job.job_dir)
        files.write_stop(job_dir, job.attempt, "the service runs without --executor ray")
        message = (
            f"the attempt runs as Ray job {job.submission_id} and this service has no Ray executor; it was asked "
            "to stop (stop.json). Serve with --executor ray to follow Ray jobs; POST /jobs/{id}/resume continues"
        )
        if self._transition(
            job, "interrupted", message, finished_at=utcnow(), iteration=self._completed(job, "interrupted")
        ):
            files.append_log(job_dir, f"interrupted: {message}")

    def _check(self, job: Job) -> None:
        job_dir = Path(job.job_dir)
        self.progress.update(job)
        record = files.read_exit(job_dir, job.attempt)
        if record is None:
            record = self._ended_without_record(job)
        if record is not None:
            self._finish(job, record)
        elif job.cancel_requested:
            self._stop_fallback(job)

    def _ended_without_record(self, job: Job) -> dict[str, Any] | None:
        """None while the job's attempt runs (or is being started, or the executor does not answer); once it
        has ended, its exit record if it arrived within the executor's grace, else a `lost` stand-in."""
        executor, handle = self._executor_of(job), Handle.of(job)
        if executor is None:
            self._orphan(job)
            return None
        if handle == Handle():
            return None  # claimed; its process is being started
        try:
            if executor.alive(handle):
                self.deadlines.running(job.id)
                return None
        except ExecutorUnavailable as err:
            self._unavailable(err)
            return None
        since_end = self.deadlines.seconds_since_end(job.id)
        record = files.read_exit(Path(job.job_dir), job.attempt)
        if record is None and since_end < executor.record_grace_s:
            return None  # shared storage may show the record later than the executor the end
        if record is None:
            record = {"returncode": None, "lost": True, "reason": self._end_reason(executor, handle)}
        return record

    def _end_reason(self, executor: Executor, handle: Handle) -> str | None:
        try:
            return executor.end_reason(handle)
        except ExecutorUnavailable as err:
            return str(err)

    def _stop_fallback(self, job: Job) -> None:
        """Kill a job that still runs STOP_GRACE_S after its stop was requested (the checkpoint should take
        seconds: its launcher or trainer hangs, or cannot see stop.json)."""
        overdue = self.deadlines.stop_overdue(job.id)  # true once
        executor = self._executor_of(job)
        if executor is None or not overdue:
            return
        files.append_log(
            Path(job.job_dir),
            f"the job did not stop within {STOP_GRACE_S:.0f} s; killing it ({executor.kill_means})",
        )
        try:
            executor.kill(Handle.of(job))
        except ExecutorUnavailable as err:
            self._unavailable(err)

    def _finish(self, job: Job, record: dict[str, Any]) -> None:
        job_dir = Path(job.job_dir)
        self.progress.update(job)
        executor = self._executor_of(job)
        if record.get("lost") and executor is not None:  # ended without a record: stop what is left of it
            executor.clean_up(Handle.of(job))
        rc = record.get("returncode")
        state, error = attempt_outcome(job, record)
        done = self._transition(
            job, state, error or f"exit code {rc}", returncode=rc, error=error, finished_at=utcnow(),
            pid=None, resume_requested=False, iteration=self._completed(job, state),
        )  # fmt: skip
        if done is not None and error and record.get("lost"):
            files.append_log(job_dir, f"error: {error}")
        self.progress.forget(job.id)
        self.deadlines.forget(job.id)
        log.info("job %s %s (exit code %s)", job.id, state, rc)
        if done is not None and state == "succeeded" and done.kind != "sweep":
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
