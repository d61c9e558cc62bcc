"""Shared helpers of the routes: the service context, job lookup and the JSON views of jobs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request

from roboforge.service.config import ServiceCfg
from roboforge.service.files import valid_job_id
from roboforge.service.runner import JobRunner
from roboforge.service.schemas import JobEventView, JobView, SweepTrialView, SweepView
from roboforge.service.store import Job, JobEvent, Store, as_utc


@dataclass
class ServiceContext:
    """What the routes need: settings, database and runner."""

    cfg: ServiceCfg
    store: Store
    runner: JobRunner


def context(request: Request) -> ServiceContext:
    return request.app.state.ctx


def get_job(ctx: ServiceContext, job_id: str) -> Job:
    """The job, or 404 (also for ids that are not plain names)."""
    job = ctx.store.get(job_id) if valid_job_id(job_id) else None
    if job is None:
        raise HTTPException(status_code=404, detail=f"No job {job_id!r}. GET /jobs lists the jobs.")
    return job


def finite(value: Any) -> Any:
    """JSON-safe copy: non-finite floats become null (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def base_url(request: Request) -> str:
    """The base of the links in responses: the configured public URL, never the request's Host header."""
    return context(request).cfg.public_url


def job_view(job: Job, base: str, events: list[JobEvent] | None = None) -> JobView:
    """The API's view of a job, with links to its log, metrics and artifacts."""
    remaining = None
    if job.status in ("queued", "running") and job.s_per_iteration:
        remaining = round(max(job.num_iterations - job.iteration, 0) * job.s_per_iteration, 1)
    return JobView(
        id=job.id,
        kind=job.kind or "train",
        task=job.task,
        library=job.library,
        policy_type=job.policy_type,
        status=job.status,  # type: ignore[arg-type]
        iteration=job.iteration,
        num_iterations=job.num_iterations,
        progress=min(job.iteration / max(job.num_iterations, 1), 1.0),
        num_envs=job.num_envs,
        seed=job.seed,
        device=job.device,
        num_gpus=job.num_gpus or 0,
        overrides=job.overrides or {},
        video_interval=job.video_interval,
        latest_video_link=f"{base}/jobs/{job.id}/videos/latest.mp4" if job.video_interval else None,
        latest_metrics=finite(job.latest_metrics),
        seconds_per_iteration=finite(job.s_per_iteration),
        estimated_remaining_s=remaining,
        attempt=job.attempt,
        cancel_requested=job.cancel_requested,
        returncode=job.returncode,
        error=job.error,
        created_at=as_utc(job.created_at),  # type: ignore[arg-type]
        started_at=as_utc(job.started_at),
        finished_at=as_utc(job.finished_at),
        updated_at=as_utc(job.updated_at),  # type: ignore[arg-type]
        log_link=f"{base}/logs/{job.id}.log",
        metrics_link=f"{base}/jobs/{job.id}/metrics",
        artifacts_link=f"{base}/jobs/{job.id}/artifacts",
        events=None
        if events is None
        else [JobEventView(at=as_utc(e.at), status=e.status, message=e.message) for e in events],  # type: ignore[arg-type]
    )


def sweep_view(job: Job, base: str, events: list[JobEvent] | None = None) -> SweepView:
    """The API's view of a sweep job: its search, trials and best trial (from its latest `sweep.json`)."""
    search = job.sweep or {}
    result = search.get("result") or {}
    trials = [
        SweepTrialView(
            number=t["number"],
            params=finite(t.get("params") or {}),
            value=finite(t.get("value")),
            state=str(t.get("state")),
        )
        for t in result.get("trials") or []
    ]
    best = result.get("best") or None
    return SweepView(
        id=job.id,
        task=job.task,
        status=job.status,  # type: ignore[arg-type]
        trials=int(search.get("trials") or 0),
        trials_done=sum(t.state != "running" for t in trials),
        params=list(search.get("params") or []),
        metric=str(search.get("metric", "")),
        direction=str(search.get("direction", "")),
        best_value=finite(best.get("value")) if best else None,
        best_params=finite(best.get("params")) if best else None,
        best_trial=best.get("number") if best else None,
        trial_list=trials,
        job=job_view(job, base, events),
    )
