"""Settings of the job service: where it listens, where jobs and their database live, limits."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from roboforge.utils.errors import UserInputError

TOKEN_ENV = "ROBOFORGE_API_TOKEN"
"""Environment variable holding the optional bearer token."""

MAX_NUM_ENVS = 65_536
"""Largest `num_envs` a request may ask for."""
MAX_ITERATIONS = 1_000_000
"""Largest `num_iterations` a request may ask for."""
MAX_QUEUED = 100
"""Default of `max_queued`."""
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


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

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
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

    @property
    def jobs_dir(self) -> Path:
        """Folder of the job folders."""
        return self.data_dir / "jobs"

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


def token_from_env() -> str | None:
    """The bearer token from ROBOFORGE_API_TOKEN (None when unset or empty)."""
    return os.environ.get(TOKEN_ENV) or None
