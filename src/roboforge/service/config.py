"""Settings of the job service: where it listens, where jobs and their database live, limits."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from roboforge.utils.errors import UserInputError
from roboforge.utils.files import check_folder

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

TOKEN_ENV = "ROBOFORGE_API_TOKEN"
"""Environment variable holding the optional bearer token."""

MAX_NUM_ENVS = 65_536
"""Largest `num_envs` a request may ask for."""
MAX_ITERATIONS = 1_000_000
"""Largest `num_iterations` a request may ask for."""
MAX_QUEUED = 100
"""Default of `max_queued`."""
MAX_JOB_GPUS = 64
"""Most GPUs a request may ask for (`num_gpus`), whatever `max_job_gpus` says."""
EXECUTORS = ("local", "ray")
"""Where job attempts run (`service/executors/`)."""
DEFAULT_RAY_ADDRESS = "http://127.0.0.1:8265"
"""The Jobs API of a Ray head on this machine (Ray's dashboard port)."""
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
DATABASES = ("sqlite", "postgresql")
"""Databases the job store runs on (SQLAlchemy backend names)."""
DATABASE_URLS = "sqlite:///PATH/jobs.db or postgresql+psycopg://USER:PASSWORD@HOST/DB"
"""The forms of `db_url` (`--db`), for messages."""


@dataclass(kw_only=True)
class ServiceCfg:
    """How `roboforge serve` runs."""

    host: str = "127.0.0.1"
    """Interface to bind; loopback unless told otherwise."""
    port: int = 8000
    """TCP port."""
    data_dir: Path = Path("runs/service")
    """Folder holding one sub-folder per job (`jobs/<job_id>/`) and, by default, the SQLite database."""
    db_url: str | None = None
    """SQLAlchemy URL of the job database; None: `sqlite:///<data_dir>/jobs.db`."""
    max_concurrent: int = 1
    """Jobs that may run at the same time; the rest wait in the queue."""
    token: str | None = None
    """Bearer token every route but /health requires; None: no authentication."""
    poll_interval_s: float = 0.5
    """How often the runner checks running jobs and starts queued ones."""
    job_env: dict[str, str] = field(default_factory=dict)
    """Extra environment variables for job processes (e.g. OMP_NUM_THREADS)."""
    max_queued: int = MAX_QUEUED
    """Jobs that may wait in the queue; a new job or resume beyond that is answered 429."""
    allowed_hosts: tuple[str, ...] = ()
    """Host names (Host header) accepted besides the loopback names, `host` and `base_url`'s host;
    '*' accepts any (this disables the DNS-rebinding check)."""
    base_url: str | None = None
    """Public URL of the service, used for the links in responses; None: http://<host>:<port>."""
    request_timeout_s: float = 10.0
    """Seconds a client may take to send a request's headers, and again its body; then it is dropped."""
    executor: str = "local"
    """Where job attempts run: `local` (a process of this machine, in a session of its own) or `ray` (a job
    of the Ray cluster at `ray_address`, submitted through its Jobs API)."""
    ray_address: str | None = None
    """The Ray cluster's Jobs API (its dashboard address) for executor `ray`; None: DEFAULT_RAY_ADDRESS."""
    max_job_gpus: int = 8
    """Most GPUs one job may ask for (`num_gpus`: one node's, as torchrun runs on one machine); the local
    executor also allows no more than this machine has."""
    task_modules: tuple[str, ...] = ()
    """Modules that register the user's own tasks (`--import`): imported by the service, passed to every
    training and sweep job (`roboforge train --import M`)."""

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        check_folder("data_dir (--data-dir)", self.data_dir)
        self.allowed_hosts = tuple(h.strip().lower() for h in self.allowed_hosts if h.strip())
        if self.max_queued < 1:
            raise UserInputError(f"max_queued (--max-queued) must be >= 1, got {self.max_queued}.")
        if self.request_timeout_s <= 0:
            raise UserInputError(f"request_timeout_s must be > 0, got {self.request_timeout_s}.")
        if self.base_url is not None:
            parts = urlsplit(self.base_url)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
                raise UserInputError(
                    f"base_url (--base-url) must look like http://host:port or https://host/prefix, got {self.base_url!r}."
                )
            self.base_url = self.base_url.rstrip("/")
        if self.max_concurrent < 1:
            raise UserInputError(
                f"max_concurrent (--max-concurrent) must be >= 1, got {self.max_concurrent}."
            )
        if not 0 < self.port < 65536:
            raise UserInputError(f"port (--port) must be in 1..65535, got {self.port}.")
        if self.poll_interval_s <= 0:
            raise UserInputError(f"poll_interval_s must be > 0, got {self.poll_interval_s}.")
        self._check_executor()
        self._check_db_url()

    def _check_db_url(self) -> None:
        """`db_url` is an SQLAlchemy URL of one of DATABASES whose driver is installed: checked before the
        store is built, which would fail with SQLAlchemy's words (a parse error, a missing module)."""
        if self.db_url is None:
            return
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(self.db_url)
        except ArgumentError:
            raise UserInputError(
                f"db_url (--db) {self.db_url!r} is not a database URL; use {DATABASE_URLS}."
            ) from None
        if url.get_backend_name() not in DATABASES:
            raise UserInputError(
                f"db_url (--db) {redact_url(url)!r} is a {url.get_backend_name()} database; the job service "
                f"runs on SQLite or PostgreSQL: use {DATABASE_URLS}."
            )
        _check_db_driver(url)

    def _check_executor(self) -> None:
        """`executor` is one of EXECUTORS, `ray_address` an http(s) URL and only with `ray`, `max_job_gpus`
        within 0..MAX_JOB_GPUS."""
        if self.executor not in EXECUTORS:
            raise UserInputError(
                f"executor (--executor) must be {' or '.join(EXECUTORS)}, got {self.executor!r}."
            )
        if self.ray_address is not None:
            if self.executor != "ray":
                raise UserInputError(
                    "--ray-address is the Ray cluster of --executor ray; add --executor ray or leave it out."
                )
            parts = urlsplit(self.ray_address)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise UserInputError(
                    "ray_address (--ray-address) must be the Ray dashboard's URL such as http://HEAD:8265, "
                    f"got {self.ray_address!r}."
                )
            self.ray_address = self.ray_address.rstrip("/")
        if not 0 <= self.max_job_gpus <= MAX_JOB_GPUS:
            raise UserInputError(
                f"max_job_gpus (--max-job-gpus) must be in 0..{MAX_JOB_GPUS}, got {self.max_job_gpus}."
            )

    @property
    def jobs_dir(self) -> Path:
        """Folder of the job folders."""
        return self.data_dir / "jobs"

    @property
    def ray_url(self) -> str:
        """The Ray Jobs API address executor `ray` uses."""
        return self.ray_address or DEFAULT_RAY_ADDRESS

    @property
    def database_url(self) -> str:
        """The configured database URL, or the default SQLite file in `data_dir`."""
        return self.db_url or f"sqlite:///{self.data_dir / 'jobs.db'}"

    @property
    def public_url(self) -> str:
        """The base of the links in responses: `base_url`, else http://<host>:<port>."""
        if self.base_url:
            return self.base_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def host_names(self) -> frozenset[str]:
        """Host names the service answers to (Host header without the port)."""
        names = {*LOOPBACK_HOSTS, self.host.lower(), *self.allowed_hosts}
        public = urlsplit(self.public_url).hostname
        if public:
            names.add(public.lower())
        return frozenset(names)

    @property
    def is_loopback(self) -> bool:
        """True when the service listens on the loopback interface only."""
        return self.host in LOOPBACK_HOSTS


def _check_db_driver(url: URL) -> None:
    """UserInputError naming `--db` unless SQLAlchemy has the URL's driver and its package is installed."""
    from sqlalchemy.exc import NoSuchModuleError

    try:
        url.get_dialect().import_dbapi()
    except NoSuchModuleError:
        raise UserInputError(
            f"db_url (--db) {redact_url(url)!r}: SQLAlchemy has no driver {url.drivername!r}; "
            f"use {DATABASE_URLS}."
        ) from None
    except ImportError as err:
        raise UserInputError(
            f"db_url (--db) {redact_url(url)!r} needs the {err.name or url.get_driver_name()} package, which "
            "is not installed; use postgresql+psycopg://... after pip install roboforge[postgres], or "
            "sqlite:///PATH/jobs.db."
        ) from None


def redact_url(url: str | URL) -> str:
    """The database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def token_from_env() -> str | None:
    """The bearer token from ROBOFORGE_API_TOKEN (None when unset or empty)."""
    return os.environ.get(TOKEN_ENV) or None
