"""What the job and sweep routes share: queueing a validated request as a new job, and the runner's
refusals (no such job, wrong state) as HTTP errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from roboforge.service.files import new_job_id
from roboforge.service.runner import JobConflict, JobNotFound
from roboforge.service.schemas import JobRequest
from roboforge.service.store import Job
from roboforge.service.validation import ResolvedJob, resolve_num_gpus
from roboforge.service.views import ServiceContext


def check_queue(ctx: ServiceContext) -> None:
    """429 when the queue already holds `max_queued` jobs."""
    queued = ctx.store.count(["queued"])
    if queued >= ctx.cfg.max_queued:
        raise HTTPException(
            429,
            f"{queued} jobs are queued, the most this service holds (--max-queued {ctx.cfg.max_queued}); "
            "try again when some have started, or cancel queued jobs.",
            headers={"Retry-After": "30"},
        )


def queue_job(ctx: ServiceContext, req: JobRequest, resolved: ResolvedJob, **kind_fields: Any) -> Job:
    """Check the GPU request and the queue (400/429), then submit a new job of the request's task;
    `kind_fields` are the Job columns of its kind (a sweep's `kind` and `sweep`, a job's `video_interval`)."""
    num_gpus = resolve_num_gpus(req, ctx.cfg)
    check_queue(ctx)
    job_id = new_job_id(req.task)
    job = Job(
        id=job_id,
        task=resolved.task,
        library=resolved.library,
        policy_type=resolved.policy_type,
        num_iterations=req.num_iterations,
        num_envs=resolved.num_envs,
        seed=req.seed,
        device=req.device,
        num_gpus=num_gpus,
        overrides=dict(req.overrides),
        job_dir=str(Path(ctx.cfg.jobs_dir) / job_id),
        iteration=0,
        attempt=0,
        resume_requested=False,
        cancel_requested=False,
        **kind_fields,
    )
    return ctx.runner.submit(job)


@contextmanager
def runner_refusals(noun: str, job_id: str) -> Iterator[None]:
    """The runner's JobNotFound as 404 and JobConflict as 409, worded for a `noun` ('job', 'sweep')."""
    try:
        yield
    except JobNotFound as err:
        raise HTTPException(404, f"No {noun} {job_id!r}.") from err
    except JobConflict as err:
        raise HTTPException(409, str(err).replace("Job ", f"{noun.capitalize()} ", 1)) from err
