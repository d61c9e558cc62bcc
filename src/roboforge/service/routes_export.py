"""`POST /jobs/{id}/export`: export a stopped job's policy (ONNX + metadata, parity-checked) on demand.

The export runs as a separate `roboforge export` process (exports.py) and writes
`<run>/exported/policy.onnx`, listed by `GET /jobs/{id}/artifacts` when it is done; its outcome is an
event of the job and a line of its log. A job that succeeds is exported without being asked.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from roboforge.service.errors import DISK_FULL_STATUS, JobConflict, JobNotFound
from roboforge.service.responses import WRITE, documented
from roboforge.service.schemas import ErrorBody
from roboforge.service.views import ServiceContext, base_url, context, get_job

router = APIRouter()
Ctx = Annotated[ServiceContext, Depends(context)]


class ExportStarted(BaseModel):
    status: str = Field(description="'export started'.")
    job_id: str
    export: int = Field(description="Number of this export of the job (1, 2, ...).")
    log_link: str = Field(description="The job's log; the export's output and outcome are appended to it.")
    artifacts_link: str = Field(description="Lists exported/policy.onnx and its metadata when done.")
    job_link: str = Field(description="The job; its events record the export's outcome.")


RESPONSES = {
    **documented(*WRITE, 404, 409),
    DISK_FULL_STATUS: {"model": ErrorBody, "description": "The disk holding the job's folder is full."},
}


@router.post(
    "/jobs/{job_id}/export", status_code=202, response_model=ExportStarted, tags=["jobs"], responses=RESPONSES
)
def export_job(job_id: str, request: Request, ctx: Ctx) -> ExportStarted:
    """Export the policy of a stopped job from its latest checkpoint (`roboforge export --check`);
    409 while it is queued or running, without a checkpoint, or while an export of it runs."""
    get_job(ctx, job_id)
    try:
        number = ctx.runner.export(job_id)
    except JobNotFound as err:
        raise HTTPException(404, f"No job {job_id!r}.") from err
    except JobConflict as err:
        raise HTTPException(409, str(err)) from err
    base = base_url(request)
    return ExportStarted(
        status="export started",
        job_id=job_id,
        export=number,
        log_link=f"{base}/logs/{job_id}.log",
        artifacts_link=f"{base}/jobs/{job_id}/artifacts",
        job_link=f"{base}/jobs/{job_id}",
    )
