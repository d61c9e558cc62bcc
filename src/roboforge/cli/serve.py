"""`roboforge serve`: the training job service (REST API + dashboard)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from roboforge.cli.app import Imports, Json, app
from roboforge.cli.imports import import_modules
from roboforge.cli.run import console, run_command


@app.command(
    epilog="Examples: roboforge serve | roboforge serve --port 8080 --max-concurrent 2 --db "
    "postgresql+psycopg://user:pw@host/db | ROBOFORGE_API_TOKEN=secret roboforge serve --host 0.0.0.0 "
    "--allowed-hosts trainer.lab --json | roboforge serve --executor ray --ray-address http://head:8265 "
    "--data-dir /shared/roboforge --max-concurrent 8 | roboforge serve --import my_robots.tasks",
)
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    db: Annotated[
        str | None,
        typer.Option(
            help="Job database: sqlite:///PATH or postgresql+psycopg://user:pw@host/db (default: "
            "sqlite:///<data-dir>/jobs.db)."
        ),
    ] = None,
    data_dir: Annotated[
        Path, typer.Option(help="Folder of the job folders (jobs/<job_id>/) and the default database.")
    ] = Path("runs/service"),
    max_concurrent: Annotated[int, typer.Option(help="Jobs that may run at the same time.")] = 1,
    max_queued: Annotated[
        int, typer.Option(help="Jobs that may wait in the queue; more are answered 429.")
    ] = 100,
    allowed_hosts: Annotated[
        str,
        typer.Option(
            help="Comma-separated host names to answer to besides loopback, --host and --base-url's "
            "('*': any; this turns off the DNS-rebinding protection)."
        ),
    ] = "",
    base_url: Annotated[
        str | None,
        typer.Option(help="Public URL for the links in responses (default http://HOST:PORT)."),
    ] = None,
    request_timeout: Annotated[
        float, typer.Option(help="Seconds a client may take to send a request's headers, and its body.")
    ] = 10.0,
    executor: Annotated[
        str,
        typer.Option(
            help="Where jobs run: local (processes of this machine) or ray (jobs of a Ray cluster, "
            "pip install roboforge[ray]; the data dir must be on storage every Ray node sees)."
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="The Ray cluster's dashboard URL for --executor ray (default http://127.0.0.1:8265)."
        ),
    ] = None,
    max_job_gpus: Annotated[
        int, typer.Option(help="Most GPUs one job may ask for (num_gpus); local: also this machine's GPUs.")
    ] = 8,
    log_level: Annotated[str, typer.Option(help="Server log level (info, warning, ...).")] = "info",
    imports: Imports = None,
    as_json: Json = False,
) -> None:
    """Serve the training job API and dashboard; jobs run as separate `roboforge train` processes."""

    def body():
        from roboforge.service.config import ServiceCfg, token_from_env
        from roboforge.utils.host_memory import memory_share

        memory_share()  # a bad ROBOFORGE_MEMORY_SHARE is one line now, not a failure of every job later
        import_modules(imports)  # jobs get the same --import
        cfg = ServiceCfg(
            host=host, port=port, data_dir=data_dir, db_url=db, max_concurrent=max_concurrent,
            token=token_from_env(), max_queued=max_queued, allowed_hosts=tuple(allowed_hosts.split(",")),
            base_url=base_url, request_timeout_s=request_timeout, executor=executor, ray_address=ray_address,
            max_job_gpus=max_job_gpus, task_modules=tuple(imports or ()),
        )  # fmt: skip
        _serve(cfg, log_level, as_json)

    run_command(body, bounded_memory=False)  # long-lived; each job's own command bounds its memory


def _serve(cfg, log_level: str, as_json: bool) -> None:
    """Warn about exposed settings, bind the port, then run the service until it is stopped."""
    import logging

    import uvicorn

    from roboforge.service.app import create_app
    from roboforge.service.config import TOKEN_ENV, redact_url
    from roboforge.service.server import bind_socket, uvicorn_config

    host, port = cfg.host, cfg.port
    if not cfg.is_loopback and not cfg.token:
        console.print(
            f"[bold yellow]warning:[/] listening on {host} without a token; anyone who can reach "
            f"this port can start jobs. Set {TOKEN_ENV} to require one."
        )
    if host in ("0.0.0.0", "::") and not cfg.allowed_hosts:
        console.print(
            "[bold yellow]note:[/] only requests addressed to a loopback name are answered; pass "
            "--allowed-hosts NAME,... (and --base-url) with the names clients use for this machine."
        )
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    sock = bind_socket(host, port)  # before the job runner starts: a busy port must not touch any job
    app = create_app(cfg)
    shown = f"[{host}]" if ":" in host else host
    started = {"url": f"http://{shown}:{port}/", "base_url": cfg.public_url,
               "database": redact_url(cfg.database_url), "jobs_dir": str(cfg.jobs_dir),
               "max_concurrent": cfg.max_concurrent, "token_required": bool(cfg.token),
               "executor": cfg.executor, "ray_address": cfg.ray_url if cfg.executor == "ray" else None}  # fmt: skip
    if as_json:  # one line on stdout when the service listens; the server log goes to stderr
        print(json.dumps(started), flush=True)
    runs_on = f"on the Ray cluster at {cfg.ray_url}" if cfg.executor == "ray" else "on this machine"
    console.print(
        f"roboforge service on [bold]http://{shown}:{port}/[/] (API docs /docs) - database "
        f"{started['database']}, jobs in {cfg.jobs_dir}, {cfg.max_concurrent} at a time {runs_on}, "
        f"token {'required' if cfg.token else 'not set'}"
    )
    server = uvicorn.Server(uvicorn_config(app, cfg, log_level))
    server.run(sockets=[sock])
