"""How a job's attempt ended and how far it got: its state from the launcher's exit record, and the
iterations it holds (a stopped job counts its checkpoints, where a resume continues)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from roboforge.service import files, process
from roboforge.service.store import Job


def attempt_outcome(job: Job, record: dict[str, Any]) -> tuple[str, str | None]:
    """(state, error) of a job whose attempt ended with the exit `record` (`lost`: no record at all, with the
    executor's `reason` where it knows one)."""
    rc = record.get("returncode")
    if record.get("lost"):
        if job.cancel_requested:
            return "cancelled", None
        reason = record.get("reason")
        return "failed", "the job's launcher process ended without an exit record" + (
            f": {reason}" if reason else ""
        )
    if rc == 0:
        return "succeeded", None
    if job.cancel_requested:
        return "cancelled", None
    if rc == 130 or record.get("stop_requested"):
        return "interrupted", None
    if rc is not None and rc < 0:
        return "failed", f"the training process was killed by {process.signal_name(rc)} (exit code {rc})"
    return "failed", files.failure_summary(Path(job.job_dir) / files.LOG_NAME, rc)


def completed_iterations(job: Job, state: str) -> int:
    """Iterations a job in `state` has done. A job that did not succeed counts those of its latest
    checkpoint (model_<n>.pt|.pth|.zip: n + 1), since a resume continues from there, and never all of them (a
    resume then finishes the run); a job that succeeded counts what it trained."""
    in_checkpoints = files.completed_iterations(files.find_run_dir(Path(job.job_dir), job.task))
    if state == "succeeded":
        return max(job.iteration, in_checkpoints)
    return min(in_checkpoints, max(job.num_iterations - 1, 0))
