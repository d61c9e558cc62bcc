"""`roboforge serve`: the training job service (REST API + dashboard)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(stderr=True)


def register(app: typer.Typer, run) -> None:
    """Add the `serve` command to the roboforge CLI (`run` is cli.py's error wrapper)."""

    @app.command()
    def serve(
        host: Annotated[str, typer.Option(help="Interface to bind (loopback by default).")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
        db: Annotated[
            str | None,
            typer.Option(help="SQLAlchemy database URL (default: sqlite:///<data-dir>/jobs.db)."),
        ] = None,
        data_dir: Annotated[
            Path, typer.Option(help="Folder of the job folders (jobs/<job_id>/) and the default database.")
        ] = Path("runs/service"),
        max_concurrent: Annotated[int, typer.Option(help="Jobs that may run at the same time.")] = 1,
        log_level: Annotated[str, typer.Option(help="Server log level (info, warning, ...).")] = "info",
    ) -> None:
        """Serve the training job API and dashboard; jobs run as separate `roboforge train` processes."""

        def body():
            import logging

            import uvicorn

            from roboforge.service.app import create_app
            from roboforge.service.config import TOKEN_ENV, ServiceCfg, token_from_env

            cfg = ServiceCfg(
                host=host, port=port, data_dir=data_dir, db_url=db, max_concurrent=max_concurrent,
                token=token_from_env(),
            )  # fmt: skip
            if not cfg.is_loopback and not cfg.token:
                console.print(
                    f"[bold yellow]warning:[/] listening on {host} without a token; anyone who can reach "
                    f"this port can start jobs. Set {TOKEN_ENV} to require one."
                )
            logging.basicConfig(
                level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
            )
            sock = _bind(host, port)  # before the job runner starts: a busy port must not touch any job
            app = create_app(cfg)
            shown = f"[{host}]" if ":" in host else host
            console.print(
                f"roboforge service on [bold]http://{shown}:{port}/[/] (API docs /docs) - database "
                f"{_redact(cfg.database_url)}, jobs in {cfg.jobs_dir}, {cfg.max_concurrent} at a time, "
                f"token {'required' if cfg.token else 'not set'}"
            )
            server = uvicorn.Server(uvicorn.Config(app, log_level=log_level.lower(), access_log=False))
            server.run(sockets=[sock])

        run(body)


def _bind(host: str, port: int) -> socket.socket:
    """A socket bound to host:port; a clear error when that is not possible."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise ValueError(
            f"Cannot listen on {host}:{port}: {err.strerror}. Stop the program using it or pick another --port."
        ) from err
    return sock


def _redact(url: str) -> str:
    """The URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
