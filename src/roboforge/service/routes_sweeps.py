"""Routes of hyperparameter sweeps: start, list, show and cancel (a sweep is a job of kind `sweep`,
sweeps.py; its log, artifacts and state history are those of GET /jobs/{id})."""

from __future__ import annotations

import importlib.util
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response

from roboforge.service.responses import READ, WRITE, documented
from roboforge.service.routes_jobs import MAX_OFFSET, Ctx
from roboforge.service.schemas import JobState, SweepList, SweepRequest, SweepView
from roboforge.service.store import Job
from roboforge.service.submission import queue_job, runner_refusals
from roboforge.service.sweeps import validate_sweep
from roboforge.service.views import ServiceContext, base_url, get_job, sweep_view

router = APIRouter()


def get_sweep(ctx: ServiceContext, sweep_id: str) -> Job:
    """The sweep's job, or 404 (also for a training job's id)."""
    job = get_job(ctx, sweep_id)
    if job.kind != "sweep":
        raise HTTPException(
            404, f"No sweep {sweep_id!r} ({sweep_id} is a training job: GET /jobs/{sweep_id})."
        )
    return job


@router.post(
    "/sweeps",
    status_code=202,
    response_model=SweepView,
    tags=["sweeps"],
    responses=documented(*WRITE, 429, 501),
)
def start_sweep(req: SweepRequest, request: Request, response: Response, ctx: Ctx) -> SweepView:
    """Queue a hyperparameter sweep: an Optuna study of `trials` training runs of the task, `parallel` at a
    time (`roboforge sweep`), each with `num_iterations`; it takes one job slot (see --max-concurrent)."""
    if importlib.util.find_spec("optuna") is None:
        raise HTTPException(
            501, 'this server lacks the optuna package; install it with pip install -e ".[sweep]"'
        )
    resolved, params = validate_sweep(req)
    search = {
        "trials": req.trials,
        "parallel": req.parallel,
        "params": params,
        "metric": req.metric,
        "direction": req.direction,
    }
    job = queue_job(ctx, req, resolved, kind="sweep", sweep=search)
    base = base_url(request)
    response.headers["Location"] = f"{base}/sweeps/{job.id}"
    return sweep_view(job, base)


@router.get("/sweeps", response_model=SweepList, tags=["sweeps"], responses=documented(*READ))
def list_sweeps(
    request: Request,
    ctx: Ctx,
    status: Annotated[
        list[JobState] | None, Query(max_length=6, description="Only sweeps in these states.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> SweepList:
    """Sweeps, newest first."""
    base = base_url(request)
    found = [sweep_view(j, base) for j in ctx.store.list(status, limit=limit, offset=offset, kind="sweep")]
    return SweepList(count=len(found), sweeps=found)


@router.get("/sweeps/{sweep_id}", response_model=SweepView, tags=["sweeps"], responses=documented(*READ, 404))
def sweep_status(sweep_id: str, request: Request, ctx: Ctx) -> SweepView:
    """State, trials (params, value, state) and best trial of one sweep."""
    job = get_sweep(ctx, sweep_id)
    return sweep_view(job, base_url(request), ctx.store.events(sweep_id))


@router.post(
    "/sweeps/{sweep_id}/cancel",
    status_code=202,
    response_model=SweepView,
    tags=["sweeps"],
    responses=documented(*WRITE, 404, 409),
)
def cancel_sweep(
    sweep_id: str,
    request: Request,
    ctx: Ctx,
    force: Annotated[bool, Query(description="SIGKILL instead of a checkpointing stop.")] = False,
) -> SweepView:
    """Cancel a queued sweep, or stop a running one (its running trial saves a checkpoint; the trials so far
    stay in sweep.json), then it ends `cancelled`."""
    get_sweep(ctx, sweep_id)
    with runner_refusals("sweep", sweep_id):
        job = ctx.runner.cancel(sweep_id, force)
    return sweep_view(job, base_url(request))
