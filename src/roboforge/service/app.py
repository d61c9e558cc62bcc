"""The FastAPI application: routes, the dashboard page, 422 messages, auth, and the runner's lifetime."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse

from roboforge import __version__
from roboforge.envs.registry import import_task_modules
from roboforge.service import errors, routes_export, routes_files, routes_jobs, routes_sweeps
from roboforge.service.auth import BearerAuth
from roboforge.service.config import ServiceCfg
from roboforge.service.responses import validation_content
from roboforge.service.runner import JobRunner
from roboforge.service.security import RequestGuard
from roboforge.service.store import Store
from roboforge.service.validation import warm_task_infos
from roboforge.service.views import ServiceContext

log = logging.getLogger("roboforge.service")

DESCRIPTION = """Start training jobs (PPO or SAC with rsl_rl, skrl, rl_games or sb3) on roboforge tasks, watch their progress, logs and metrics,
cancel and resume them, and download checkpoints and exported ONNX policies. Jobs run as separate
processes from a persistent queue; their state lives in the database."""


def dashboard_html() -> str:
    """The self-contained dashboard page (no external scripts)."""
    return resources.files("roboforge.service").joinpath("static/dashboard.html").read_text(encoding="utf-8")


def page_headers(page: str) -> dict[str, str]:
    """Security headers of the dashboard: its one inline script by hash, inline styles, no framing."""
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.S)
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts
    )
    csp = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }


def create_app(cfg: ServiceCfg, start_runner: bool = True) -> FastAPI:
    """The service app; with `start_runner` the job runner thread starts and stops with it. The task modules
    of `cfg` are imported first: the task list and request checks see their tasks."""
    import_task_modules(cfg.task_modules)
    store = Store(cfg.database_url)
    try:
        runner = JobRunner(store, cfg)  # connects to the executor (a Ray cluster that does not answer: error)
    except BaseException:
        store.close()
        raise
    page = dashboard_html()
    headers = page_headers(page)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if start_runner:
            runner.start()
            warm_task_infos()
        try:
            yield
        finally:
            runner.stop()
            store.close()

    app = FastAPI(
        title="roboforge training jobs", version=__version__, description=DESCRIPTION, lifespan=lifespan
    )
    app.state.ctx = ServiceContext(cfg=cfg, store=store, runner=runner)
    app.include_router(routes_jobs.router)
    app.include_router(routes_files.router)
    app.include_router(routes_export.router)
    app.include_router(routes_sweeps.router)
    errors.install(app)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard() -> HTMLResponse:
        return HTMLResponse(page, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content=validation_content(exc.errors()))

    if cfg.token:
        app.add_middleware(BearerAuth, token=cfg.token, secure_cookie=cfg.public_url.startswith("https:"))
    app.add_middleware(RequestGuard, cfg=cfg)  # outermost: before the token check
    return app
