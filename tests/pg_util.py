"""A throwaway PostgreSQL server for the tests: Debian's binaries, a temporary data folder, loopback only.

`conftest.py` starts one per test session (`postgres_server`) and gives each test that asks for
PostgreSQL a fresh database (`pg_url`). Without the binaries (`apt-get install postgresql`) or psycopg
(`pip install -e ".[postgres]"`) those tests skip, naming what is missing; under CI (`CI` set, as
`.ci/run` does) or with `ROBOFORGE_TEST_POSTGRES=require` they fail instead.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

# The server runs in a time zone other than UTC, so a timestamp that is not converted back to UTC shows up.
SERVER_TIMEZONE = "America/New_York"


def pg_required() -> bool:
    """True when PostgreSQL tests must run (fail rather than skip)."""
    return os.environ.get("ROBOFORGE_TEST_POSTGRES") == "require" or bool(os.environ.get("CI"))


def find_bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl: Debian's newest /usr/lib/postgresql/<version>/bin, or PATH."""

    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parent.parent.name
        return tuple(int(p) for p in name.split(".") if p.isdigit())

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(os.path.realpath(initdb)).parent
    return None


def unavailable_reason() -> str | None:
    """Why no test server can be started here, or None when it can."""
    if os.environ.get("ROBOFORGE_TEST_POSTGRES") == "off":
        return "ROBOFORGE_TEST_POSTGRES=off"
    if find_bin_dir() is None:
        return ("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql "
                "(scripts/test.sh installs it)")  # fmt: skip
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return 'psycopg not installed: pip install -c constraints-cpu.txt -e ".[dev,postgres]"'
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """initdb + pg_ctl start on 127.0.0.1:<free port>; `stop()` removes the server and its files.

    As root the server runs as the `postgres` user (PostgreSQL refuses to run as root), in a data folder
    that user owns."""

    USER = "roboforge"

    def __init__(self) -> None:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise RuntimeError(unavailable_reason() or "PostgreSQL binaries not found")
        self.bin_dir = bin_dir
        self.run_as: str | None = None
        if os.geteuid() == 0:
            self.run_as = next((u for u in ("postgres", "nobody") if _user_exists(u)), None)
            if self.run_as is None:
                raise RuntimeError("running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")
        self.root = Path(tempfile.mkdtemp(prefix="roboforge-pg-"))
        if self.run_as is not None:
            pw = pwd.getpwnam(self.run_as)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self._databases = itertools.count()
        self._started = False
        self._watchdog = self._watch()
        atexit.register(self.stop)  # also when the session is interrupted

    def _watch(self) -> subprocess.Popen:
        """A detached shell that stops the server and deletes its folder once this process is gone, even
        when it was killed (SIGKILL, a CI timeout) and neither the finalizer nor atexit ran."""
        stop = shlex.join(self._cmd("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"))
        script = (f"while [ -d /proc/{os.getpid()} ]; do sleep 1; done; {stop} >/dev/null 2>&1; "
                  f"rm -rf {shlex.quote(str(self.root))}")  # fmt: skip
        return subprocess.Popen(["sh", "-c", script], start_new_session=True, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        return ["runuser", "-u", self.run_as, "--", *cmd] if self.run_as else cmd

    def _run(self, *args: str, timeout: float = 120) -> None:
        result = subprocess.run(
            self._cmd(*args), capture_output=True, text=True, timeout=timeout, cwd=self.root
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:2])} failed (exit code {result.returncode}):\n{result.stdout}{result.stderr}"
                + (f"\nserver log:\n{self.log.read_text(errors='replace')}" if self.log.exists() else "")
            )

    def start(self, attempts: int = 3) -> PostgresServer:
        self._run("initdb", "-D", str(self.data), "-U", self.USER, "--auth=trust", "--encoding=UTF8",
                  "--no-locale", "--no-sync", "--no-instructions")  # fmt: skip
        for attempt in range(attempts):  # another process may take the free port before the server binds it
            self.port = free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
                       f"-c synchronous_commit=off -c full_page_writes=off -c timezone={SERVER_TIMEZONE}")  # fmt: skip
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60",
                          "start")  # fmt: skip
                break
            except RuntimeError:
                if attempt == attempts - 1:
                    raise
        self._started = True
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A new empty database; its SQLAlchemy URL."""
        import psycopg

        name = f"test_{next(self._databases)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.USER} dbname=postgres",
                             autocommit=True) as conn:  # fmt: skip
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (immediately; its data is thrown away) and delete its folder. Idempotent."""
        if self._started:
            self._started = False
            with contextlib.suppress(Exception):
                subprocess.run(self._cmd("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"),
                               capture_output=True, timeout=60, cwd=self.root)  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)
        if self._watchdog.poll() is None:
            self._watchdog.kill()
            self._watchdog.wait()


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


DATABASE_KINDS = ("sqlite", "postgresql")
DATABASES = pytest.mark.parametrize("db_url", DATABASE_KINDS, indirect=True)
"""Runs a test that takes the `db_url` fixture on SQLite and on PostgreSQL."""


def database_url(request, kind: str) -> str | None:
    """None for "sqlite" (the caller's default SQLite file); for "postgresql" the URL of a fresh database on
    the session's test server (`postgres_server` fixture: skips or fails when there is none)."""
    if kind == "sqlite":
        return None
    if kind == "postgresql":
        return request.getfixturevalue("postgres_server").new_database()
    raise ValueError(f"unknown database kind {kind!r}; kinds are {', '.join(DATABASE_KINDS)}")
