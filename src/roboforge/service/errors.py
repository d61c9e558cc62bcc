"""Errors of the job service: a request the job's state does not allow (409), an unknown job (404), and
a full disk (job folders, the SQLite database): a 507 that says where, not a traceback.

`install(app)` adds the 507 handler; nothing here imports FastAPI at module level, so the store and the
job files can raise `DiskFull` without loading the web stack."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from roboforge.utils.errors import UserInputError

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
DISK_FULL_STATUS = 507
"""HTTP 507 Insufficient Storage."""


class JobConflict(Exception):
    """The job is not in a state that allows the request (HTTP 409)."""


class JobNotFound(LookupError):
    """No job with that id (HTTP 404)."""


class DatabaseUnusable(UserInputError):
    """The job database cannot be used at start (damaged, unreachable, full): one line, exit code 2."""


class DiskFull(RuntimeError):
    """No space left for a write of the service (HTTP 507); the message names the place and the fix."""


def disk_full_message(where: Path | str, reason: str) -> str:
    """'The disk is full: cannot write <where> (<reason>). Free space ...' (one line)."""
    return (
        f"The disk is full: cannot write {where} ({reason}). Free space on the disk that holds it "
        "(old job folders can be deleted), then retry."
    )


def is_no_space(err: BaseException) -> bool:
    """True for an OSError that means the disk (or the quota) is full."""
    return isinstance(err, OSError) and err.errno in NO_SPACE


@contextmanager
def disk_space(where: Path | str) -> Iterator[None]:
    """Turn 'no space left on device' inside the block into DiskFull naming the file (or `where`)."""
    try:
        yield
    except OSError as err:
        if not is_no_space(err):
            raise
        raise DiskFull(disk_full_message(err.filename or where, err.strerror or "no space left")) from err


def install(app: Any) -> None:
    """Answer DiskFull with 507 and a JSON `detail` (the service's error shape)."""
    from fastapi import Request
    from fastapi.responses import JSONResponse

    @app.exception_handler(DiskFull)
    async def disk_full(request: Request, exc: DiskFull) -> JSONResponse:
        return JSONResponse(status_code=DISK_FULL_STATUS, content={"detail": str(exc)})
