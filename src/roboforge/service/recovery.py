"""The job folders are the durable source: a database that lost jobs (deleted, replaced by an empty one)
gets their records back from `jobs/<id>/job.json` when the service starts.

A restored job keeps the state its record says, except that the launcher's own record decides whether
an attempt started: such a job is restored `running` with the launcher's pid, and the runner's
recovery then re-attaches it (process alive), finishes it from its exit record, or marks it
`interrupted`. So a job that still trains counts against `--max-concurrent` and shows in listings.
"""

from __future__ import annotations

import logging
from pathlib import Path

from roboforge.service import files, records
from roboforge.service.progress import RunProgress
from roboforge.service.store import Job, Store

log = logging.getLogger("roboforge.service")


def restore_missing(store: Store, jobs_dir: Path) -> list[Job]:
    """Re-create the database records of job folders the database does not know; the restored jobs."""
    restored: list[Job] = []
    if not jobs_dir.is_dir():
        return restored
    for job_dir in sorted(jobs_dir.iterdir()):
        if not job_dir.is_dir() or not files.valid_job_id(job_dir.name) or store.get(job_dir.name):
            continue
        job = records.read_record(job_dir)
        if job is None:
            log.warning("job folder %s has no readable %s; it is not listed", job_dir, records.RECORD_NAME)
            continue
        reconcile(job)
        message = f"restored from {records.RECORD_NAME}: the database had no record of this job"
        if store.restore(job, message):
            files.append_log(job_dir, f"{message} (restored as {job.status})")
            log.warning("restored job %s (%s) from its folder", job.id, job.status)
            restored.append(job)
    return restored


def reconcile(job: Job) -> None:
    """Make the record agree with the launcher's files: a started attempt is `running` (with its pid)."""
    job_dir = Path(job.job_dir)
    launched = files.read_json(job_dir / files.PID_NAME) or {}
    attempt = launched.get("attempt")
    if isinstance(attempt, int) and (
        attempt > job.attempt or (attempt == job.attempt and job.status == "running")
    ):
        own = files.read_launcher(job_dir, attempt)
        job.status, job.attempt = "running", attempt
        job.pid, job.pid_token = own if own else (None, None)
        job.finished_at = None
    elif job.status == "running":
        job.pid = job.pid_token = None  # claimed, but its launcher never started: recovery interrupts it
    run_dir = files.find_run_dir(job_dir, job.task)
    if run_dir is not None:
        progress = RunProgress(run_dir)
        metrics = progress.read()
        job.run_dir = str(run_dir)
        job.latest_metrics = metrics[-1] if metrics else None
        job.s_per_iteration = progress.s_per_iteration
        if job.status == "succeeded" and metrics:
            job.iteration = max(job.iteration, metrics[-1]["iteration"] + 1)


def write_missing_records(store: Store, jobs: list[Job]) -> None:
    """Write job.json for jobs the database knows but whose folder lacks one (folders of older versions)."""
    for job in jobs:
        job_dir = Path(job.job_dir)
        if job_dir.is_dir() and not (job_dir / records.RECORD_NAME).exists():
            try:
                records.write_record(job)
            except Exception as err:  # a record that cannot be written now is written on its next change
                log.warning("could not write %s for job %s: %s", records.RECORD_NAME, job.id, err)
