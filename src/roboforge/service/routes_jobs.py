"""Routes that start, list, cancel and resume jobs, plus /tasks and /health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response

from roboforge import __version__
from roboforge.service.agents import installed_libraries
from roboforge.service.jobspec import estimate_hours
from roboforge.service.responses import READ, WRITE, documented
from roboforge.service.schemas import (
    Health,
    JobList,
    JobRequest,
    JobStarted,
    JobState,
    JobView,
    ResumeRequest,
    TaskList,
)
from roboforge.service.store import TERMINAL
from roboforge.service.submission import check_queue, queue_job, runner_refusals
from roboforge.service.validation import task_infos, validate_job
from roboforge.service.views import ServiceContext, base_url, context, get_job, job_view

router = APIRouter()
Ctx = Annotated[ServiceContext, Depends(context)]
MAX_OFFSET = 10**9


@router.post(
    "/reinforcement-learning",
    status_code=202,
    response_model=JobStarted,
    tags=["jobs"],
    responses=documented(*WRITE, 429),
)
def start_job(req: JobRequest, request: Request, response: Response, ctx: Ctx) -> JobStarted:
    """Queue a training job (`library` and `policy_type`: GET /tasks); it starts as soon as a slot is free
    (see --max-concurrent)."""
    resolved = validate_job(req)
    job = queue_job(ctx, req, resolved, video_interval=req.video_interval)
    job_id = job.id
    base = base_url(request)
    response.headers["Location"] = f"{base}/jobs/{job_id}"
    return JobStarted(
        status="RL training job started",
        job_id=job_id,
        job_status=job.status,  # type: ignore[arg-type]
        estimated_completion_hours=estimate_hours(ctx.store, job, resolved.steps_per_iteration),
        log_link=f"{base}/logs/{job_id}.log",
        job_link=f"{base}/jobs/{job_id}",
    )


@router.get("/jobs", response_model=JobList, tags=["jobs"], responses=documented(*READ))
def list_jobs(
    request: Request,
    ctx: Ctx,
    status: Annotated[
        list[JobState] | None, Query(max_length=6, description="Only jobs in these states.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> JobList:
    """Jobs, newest first."""
    base = base_url(request)
    jobs = [job_view(j, base) for j in ctx.store.list(status, limit=limit, offset=offset)]
    return JobList(count=len(jobs), jobs=jobs)


@router.get("/jobs/{job_id}", response_model=JobView, tags=["jobs"], responses=documented(*READ, 404))
def job_status(job_id: str, request: Request, ctx: Ctx) -> JobView:
    """State, progress, latest metrics, timestamps and state history of one job."""
    job = get_job(ctx, job_id)
    return job_view(job, base_url(request), ctx.store.events(job_id))


@router.post(
    "/jobs/{job_id}/cancel",
    status_code=202,
    response_model=JobView,
    tags=["jobs"],
    responses=documented(*WRITE, 404, 409),
)
def cancel_job(
    job_id: str,
    request: Request,
    ctx: Ctx,
    force: Annotated[bool, Query(description="SIGKILL instead of a checkpointing stop.")] = False,
) -> JobView:
    """Cancel a queued job, or stop a running one (it saves a checkpoint, then ends `cancelled`)."""
    get_job(ctx, job_id)
    with runner_refusals("job", job_id):
        job = ctx.runner.cancel(job_id, force)
    return job_view(job, base_url(request))


@router.post(
    "/jobs/{job_id}/resume",
    status_code=202,
    response_model=JobView,
    tags=["jobs"],
    responses=documented(*WRITE, 404, 409, 429),
)
def resume_job(
    job_id: str, request: Request, ctx: Ctx, body: Annotated[ResumeRequest | None, Body()] = None
) -> JobView:
    """Queue a cancelled, interrupted or failed job again; it continues from its last checkpoint."""
    if get_job(ctx, job_id).status in TERMINAL:
        check_queue(ctx)  # a job that cannot resume is a 409 below, whatever the queue
    with runner_refusals("job", job_id):
        job = ctx.runner.resume(job_id, body.num_iterations if body else None)
    return job_view(job, base_url(request))


@router.get("/tasks", response_model=TaskList, tags=["service"], responses=documented(400, 401))
def tasks() -> TaskList:
    """Registered tasks with their default world count, RL libraries and policy types, and iterations."""
    return TaskList(tasks=list(task_infos()), installed_libraries=installed_libraries())


@router.get("/health", response_model=Health, tags=["service"], responses=documented(400, 503))
def health(ctx: Ctx) -> Health:
    """Liveness and database check (no token needed)."""
    try:
        ok = ctx.store.ping()
    except Exception as err:  # any database failure is a 503 with its message
        raise HTTPException(503, f"database unavailable: {err}") from err
    if not ok:
        raise HTTPException(503, "database unavailable")
    return Health(status="ok", version=__version__, database="ok")
