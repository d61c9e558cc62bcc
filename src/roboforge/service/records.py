"""`jobs/<id>/job.json`: the job's record beside its files, so the job folders are the durable source.

The runner writes it atomically when a job is queued and on every state change (and when its process
is known); the database is the index the API reads. A service that finds job folders its database
does not know (a deleted or replaced database) re-creates their records from these files
(recovery.py). Progress (iteration, metrics) is not kept here: it is read again from the run folder.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from roboforge.service import files
from roboforge.service.store import DEFAULT_LIBRARY, Job, as_utc

RECORD_NAME = "job.json"
FORMAT = 5
"""Version of the record's layout (1: before `library`, such a record reads as an rsl_rl job; 2: before
`num_gpus` and `submission_id`, read as 0 and None; 3: before `kind` and `sweep`, read as a training job;
4: before `video_interval`, read as None)."""
FIELDS = ("id", "task", "library", "policy_type", "num_iterations", "num_envs", "seed", "device", "num_gpus",
          "overrides", "video_interval", "status", "iteration", "job_dir", "run_dir", "pid", "pid_token", "submission_id",
          "attempt", "kind", "sweep", "resume_requested", "cancel_requested", "returncode", "error",
          "created_at", "started_at", "finished_at")  # fmt: skip
TIMES = ("created_at", "started_at", "finished_at")
REQUIRED = ("id", "task", "policy_type", "num_iterations", "num_envs", "status", "created_at")


def record_of(job: Job) -> dict[str, Any]:
    """The JSON-ready record of `job`."""
    record: dict[str, Any] = {"format": FORMAT}
    for name in FIELDS:
        value = getattr(job, name)
        record[name] = as_utc(value).isoformat() if isinstance(value, datetime) else value  # type: ignore[union-attr]
    return record


def write_record(job: Job) -> None:
    """Write `job_dir/job.json` atomically (DiskFull when the disk is full)."""
    job_dir = Path(job.job_dir)
    job_dir.mkdir(parents=True, exist_ok=True)
    files.write_json(job_dir / RECORD_NAME, record_of(job))


def read_record(job_dir: Path) -> Job | None:
    """The job recorded in `job_dir/job.json` (its folder is taken from where it lies), or None."""
    record = files.read_json(job_dir / RECORD_NAME)
    if record is None or any(record.get(k) is None for k in REQUIRED) or record["id"] != job_dir.name:
        return None
    values = {k: record.get(k) for k in FIELDS}
    try:
        for name in TIMES:
            value = values[name]
            values[name] = datetime.fromisoformat(str(value)) if value else None
    except (TypeError, ValueError):
        return None
    values["job_dir"] = str(job_dir)
    values["library"] = values["library"] or DEFAULT_LIBRARY
    values["overrides"] = values["overrides"] or {}
    for flag in ("resume_requested", "cancel_requested"):
        values[flag] = bool(values[flag])
    values["iteration"] = int(values["iteration"] or 0)
    values["attempt"] = int(values["attempt"] or 0)
    values["num_gpus"] = int(values["num_gpus"] or 0)
    values["kind"] = values["kind"] or "train"
    return Job(**values)
