"""Routes that read a job's folder: the log (plain, tail, streaming), metrics series, curves and artifacts.

Names from the URL never become paths directly: the job id must be a plain name known to the
database, and an artifact must be one of the files `list_artifacts` returns for that job's folder.
No file is read through a symlink that leads out of the job's folder (`contained`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, PlainTextResponse, Response, StreamingResponse

from roboforge.service import files
from roboforge.service.responses import READ, documented
from roboforge.service.schemas import ArtifactList, ArtifactView, MetricsView
from roboforge.service.store import ACTIVE
from roboforge.service.views import ServiceContext, base_url, context, finite, get_job

router = APIRouter()
Ctx = Annotated[ServiceContext, Depends(context)]
FOLLOW_POLL_S = 0.5
MAX_SINCE = 10**9
DOWNLOAD_TYPES = ("application/octet-stream", "application/json", "text/plain", "video/mp4")
CURVES_NAME = "curves.png"
"""The job's training curves (`roboforge plot` of its run), kept in the job folder and drawn again only when
the metrics changed, so requests cost one picture per training iteration at most."""


def contained(path: Path, root: Path) -> Path | None:
    """`path` with symlinks resolved, if that is inside `root`; else None (also when it cannot be resolved)."""
    try:
        resolved = path.resolve()
        return resolved if resolved.is_relative_to(root.resolve()) else None
    except (OSError, RuntimeError):  # a symlink loop, a path too long
        return None


@router.get(
    "/logs/{log_name}",
    response_class=Response,  # text/plain answers, JSON errors (PlainTextResponse documents errors as text)
    tags=["files"],
    responses={
        200: {"description": "The log.", "content": {"text/plain": {"schema": {"type": "string"}}}},
        **documented(*READ, 404),
    },
)
async def job_log(
    log_name: str,
    ctx: Ctx,
    tail: Annotated[int | None, Query(ge=1, le=100_000, description="Only the last N lines.")] = None,
    follow: Annotated[bool, Query(description="Stream new lines until the job ends.")] = False,
):
    """The job's log as plain text (`/logs/<job_id>.log`)."""
    job_id = log_name.removesuffix(".log")
    if not log_name.endswith(".log"):
        raise HTTPException(404, f"No log {log_name!r}; logs are named <job_id>.log.")
    job = await run_in_threadpool(get_job, ctx, job_id)
    job_dir = Path(job.job_dir)
    path = job_dir / files.LOG_NAME
    if path.exists() and contained(path, job_dir) is None:
        raise HTTPException(404, f"The log of job {job_id} is not a file inside the job's folder.")
    head, end = await run_in_threadpool(files.read_tail, path, tail)
    if not follow:
        return PlainTextResponse(head.decode("utf-8", "replace"))
    return StreamingResponse(_follow(ctx, job_id, path, head, end), media_type="text/plain; charset=utf-8")


async def _follow(ctx: ServiceContext, job_id: str, path: Path, head: bytes, offset: int):
    """Yield `head`, then what is appended to the log, until the job is no longer queued or running."""
    if head:
        yield head
    while True:
        chunk = await run_in_threadpool(_read_from, path, offset)
        if chunk:
            offset += len(chunk)
            yield chunk
            continue
        job = await run_in_threadpool(ctx.store.get, job_id)
        if job is None or job.status not in ACTIVE:
            rest = await run_in_threadpool(_read_from, path, offset)
            if rest:
                yield rest
            return
        await asyncio.sleep(FOLLOW_POLL_S)


def _read_from(path: Path, offset: int, limit: int = 1 << 20) -> bytes:
    """Up to `limit` bytes of the log from `offset` (nothing once it leads out of the job's folder)."""
    if contained(path, path.parent) is None:
        return b""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            return f.read(limit)
    except OSError:
        return b""


@router.get(
    "/jobs/{job_id}/metrics", response_model=MetricsView, tags=["files"], responses=documented(*READ, 404)
)
def job_metrics(
    job_id: str,
    ctx: Ctx,
    since: Annotated[int, Query(ge=0, le=MAX_SINCE, description="Only iterations >= since.")] = 0,
    keys: Annotated[
        list[str] | None, Query(max_length=100, description="Only these metrics (default: all).")
    ] = None,
) -> MetricsView:
    """Per-iteration metrics as series (reward, episode length, losses, ...) for curves."""
    job = get_job(ctx, job_id)
    job_dir = Path(job.job_dir)
    run_dir = Path(job.run_dir) if job.run_dir else files.find_run_dir(job_dir, job.task)
    metrics = contained(run_dir / "metrics.jsonl", job_dir) if run_dir is not None else None
    run_dir = metrics.parent if metrics is not None else None
    records = [r for r in files.read_metric_records(run_dir) if r["iteration"] >= since]
    names = sorted({k for r in records for k in r if k != "iteration"})
    if keys:
        names = [k for k in names if k in set(keys)]
    series = {k: [finite(r.get(k)) for r in records] for k in names}
    return MetricsView(job_id=job_id, iterations=[r["iteration"] for r in records], series=series)


@router.get(
    "/jobs/{job_id}/curves.png",
    response_class=FileResponse,
    tags=["files"],
    responses={
        200: {
            "description": "The curves.",
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
        },
        **documented(*READ, 404, 501),
    },
)
def job_curves(job_id: str, ctx: Ctx) -> FileResponse:
    """The job's training curves as a PNG, as `roboforge plot` draws them (reward, episode length, task
    metrics, losses, action std, env-steps/s)."""
    from roboforge.rl import plot
    from roboforge.utils.errors import UserInputError

    job = get_job(ctx, job_id)
    job_dir = Path(job.job_dir)
    metrics = _metrics_file(job)
    if metrics is None:
        raise HTTPException(
            404, f"Job {job_id} has no metrics yet; its curves appear after the first iteration."
        )
    png = job_dir / CURVES_NAME
    if not png.is_file() or png.stat().st_mtime < metrics.stat().st_mtime:
        try:
            curves = plot.load_curves(metrics.parent, label=f"{job.task} ({job_id})")
            drawn = plot.plot_runs(
                [curves], plot.choose_panels([curves]), job_dir / f".{CURVES_NAME}.tmp.png"
            )
        except UserInputError as err:
            raise HTTPException(501 if "matplotlib" in str(err) else 404, str(err)) from None
        drawn.replace(png)
    return FileResponse(png, media_type="image/png")


@router.get(
    "/jobs/{job_id}/videos/latest.mp4",
    response_class=FileResponse,
    tags=["files"],
    responses={
        200: {
            "description": "The newest clip.",
            "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}},
        },
        **documented(*READ, 404),
    },
)
def latest_video(job_id: str, ctx: Ctx) -> FileResponse:
    """The newest clip of the training env (`video_interval`: `videos/iter_<n>.mp4` of the job's run)."""
    job = get_job(ctx, job_id)
    job_dir = Path(job.job_dir)
    run_dir = Path(job.run_dir) if job.run_dir else files.find_run_dir(job_dir, job.task)
    clip = files.latest_clip(job_dir, run_dir) if run_dir is not None else None
    if clip is None:
        hint = (
            "one is written every video_interval iterations"
            if job.video_interval
            else "it has no video_interval"
        )
        raise HTTPException(404, f"Job {job_id} has no training clip yet ({hint}).")
    return FileResponse(clip, media_type="video/mp4")


def _metrics_file(job) -> Path | None:
    """The job's run's metrics.jsonl, if it exists inside the job folder."""
    job_dir = Path(job.job_dir)
    run_dir = Path(job.run_dir) if job.run_dir else files.find_run_dir(job_dir, job.task)
    if run_dir is None:
        return None
    metrics = contained(run_dir / "metrics.jsonl", job_dir)
    return metrics if metrics is not None and metrics.is_file() else None


@router.get(
    "/jobs/{job_id}/artifacts", response_model=ArtifactList, tags=["files"], responses=documented(*READ, 404)
)
def job_artifacts(job_id: str, request: Request, ctx: Ctx) -> ArtifactList:
    """Checkpoints (`model_<it>.pt`, `.pth` or `.zip`, by library), exported `*.onnx` policies and the run's
    metrics, configs and log."""
    job = get_job(ctx, job_id)
    base = base_url(request)
    job_dir = Path(job.job_dir)
    found = [a for a in files.list_artifacts(job_dir) if contained(job_dir / a.path, job_dir) is not None]
    return ArtifactList(
        job_id=job_id,
        artifacts=[
            ArtifactView(
                path=a.path,
                kind=a.kind,
                size=a.size,
                modified=a.modified,
                url=f"{base}/jobs/{job_id}/artifacts/{a.path}",
            )
            for a in found
        ],
    )


@router.get(
    "/jobs/{job_id}/artifacts/{name:path}",
    response_class=FileResponse,
    tags=["files"],
    responses={
        200: {"description": "The file.", "content": {t: {"schema": {}} for t in DOWNLOAD_TYPES}},
        **documented(*READ, 404),
    },
)
def download_artifact(job_id: str, name: str, ctx: Ctx) -> FileResponse:
    """Download one artifact by the `path` that GET /jobs/{id}/artifacts lists."""
    job = get_job(ctx, job_id)
    path = files.resolve_artifact(Path(job.job_dir), name)
    if path is None:
        raise HTTPException(
            404, f"No artifact {name!r} in job {job_id}; GET /jobs/{job_id}/artifacts lists them."
        )
    return FileResponse(path, filename=path.name, media_type=media_type(path))


def media_type(path: Path) -> str:
    """text/plain for logs and metrics, application/json for JSON, video/mp4 for clips, else
    application/octet-stream."""
    if path.suffix in (".log", ".jsonl"):
        return "text/plain"
    if path.suffix == ".mp4":
        return "video/mp4"
    return "application/json" if path.suffix == ".json" else "application/octet-stream"
