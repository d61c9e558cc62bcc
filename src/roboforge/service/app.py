"""The FastAPI application: routes, the dashboard page, 422 messages, auth, and the runner's lifetime."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse

from roboforge import __version__
from roboforge.service import routes_files, routes_jobs
from roboforge.service.auth import BearerAuth
from roboforge.service.config import ServiceCfg
from roboforge.service.runner import JobRunner
from roboforge.service.store import Store
from roboforge.service.views import ServiceContext

log = logging.getLogger("roboforge.service")

DESCRIPTION = """Start PPO training jobs on roboforge tasks, watch their progress, logs and metrics,
cancel and resume them, and download checkpoints and exported ONNX policies. Jobs run as separate
processes from a persistent queue; their state lives in the database."""


def dashboard_html() -> str:
    """The self-contained dashboard page (no external scripts)."""
    return resources.files("roboforge.service").joinpath("static/dashboard.html").read_text(encoding="utf-8")


def create_app(cfg: ServiceCfg, start_runner: bool = True) -> FastAPI:
    """The service app; with `start_runner` the job runner thread starts and stops with it."""
    store = Store(cfg.database_url)
    runner = JobRunner(store, cfg)
    page = dashboard_html()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if start_runner:
            runner.start()
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

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard() -> HTMLResponse:
        return HTMLResponse(page)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = jsonable_encoder(exc.errors())
        message = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'body'}: {e.get('msg')}" for e in errors
        )
        return JSONResponse(status_code=422, content={"detail": errors, "message": message})

    if cfg.token:
        app.add_middleware(BearerAuth, token=cfg.token)
    return app
