"""The job database (SQLAlchemy; SQLite by default, PostgreSQL works the same).

Every state change is one transaction: a compare-and-set UPDATE (`... WHERE id = ? AND status IN (...)`)
plus a row in `job_events`, so two actors (the runner thread, an API call, a second service) never
both win the same transition. On SQLite, write transactions start with BEGIN IMMEDIATE and the
database runs in WAL mode with synchronous=FULL: a killed service loses no committed record.
A database that cannot be used (damaged, not a database, unreachable) is a DatabaseUnusable (a
ValueError) at start naming it and the fix; `ping` checks the whole SQLite file (PRAGMA quick_check); a full disk is DiskFull.
A database of an older version gets the columns added since (`add_missing_columns`) when it is opened.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy import update as sa_update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DatabaseError, OperationalError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from roboforge.service.errors import DatabaseUnusable, DiskFull, disk_full_message

STATES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
DEFAULT_LIBRARY = "rsl_rl"
"""The library of jobs recorded before jobs named one (a database or job.json of an older version)."""
ADDED_COLUMNS = {
    "jobs": {
        "library": f"VARCHAR(32) NOT NULL DEFAULT '{DEFAULT_LIBRARY}'",
        "num_gpus": "INTEGER NOT NULL DEFAULT 0",
        "submission_id": "VARCHAR(128)",
        "kind": "VARCHAR(16) NOT NULL DEFAULT 'train'",
        "sweep": "JSON",
        "video_interval": "INTEGER",
    }
}
"""Columns added to tables after their first version, with their SQL type and default for the rows there
(`create_all` makes missing tables, never missing columns: `add_missing_columns` does)."""
KINDS = ("train", "sweep")
"""What a job runs: `train` (one `roboforge train`) or `sweep` (one `roboforge sweep`: its trials one after
another; see sweeps.py)."""
ACTIVE = ("queued", "running")
TERMINAL = ("succeeded", "failed", "cancelled", "interrupted")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Job(Base):
    """One training job: what was asked, where it runs, how far it got."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    task: Mapped[str] = mapped_column(String(128))
    library: Mapped[str] = mapped_column(String(32), default=DEFAULT_LIBRARY, server_default=DEFAULT_LIBRARY)
    policy_type: Mapped[str] = mapped_column(String(16))
    num_iterations: Mapped[int] = mapped_column(Integer)
    num_envs: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    device: Mapped[str | None] = mapped_column(String(32), nullable=True)
    num_gpus: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    overrides: Mapped[dict[str, Any]] = mapped_column(JSON)
    video_interval: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """Iterations between training clips (`train --video-interval`); None: none."""
    status: Mapped[str] = mapped_column(String(16), index=True)
    iteration: Mapped[int] = mapped_column(Integer, default=0)
    latest_metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    s_per_iteration: Mapped[float | None] = mapped_column(nullable=True)
    job_dir: Mapped[str] = mapped_column(String(1024))
    run_dir: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pid_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    submission_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    """The Ray job of the current attempt (executor `ray`); None for a process of this machine (`pid`)."""
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16), default="train", server_default="train")
    """`train` or `sweep` (KINDS)."""
    sweep: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """A sweep's search: {trials, params (PATH=DIST), metric, direction} and, while it runs, its latest
    `sweep.json` as `result`; None for a training job."""
    resume_requested: Mapped[bool] = mapped_column(default=False)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    returncode: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class JobEvent(Base):
    """One state change of a job (an audit trail written in the same transaction)."""

    __tablename__ = "job_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")


def as_utc(value: datetime | None) -> datetime | None:
    """The timestamp in UTC: SQLite returns naive datetimes (written in UTC), PostgreSQL aware ones in the
    server's time zone."""
    if value is None:
        return value
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class DatabaseDamaged(sqlite3.DatabaseError):
    """SQLite's integrity check found damage."""


def quick_check(path: str) -> None:
    """PRAGMA quick_check of the SQLite file on a connection of its own, which reads the file from disk
    (a pooled connection may answer from its page cache); DatabaseDamaged naming the problems."""
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=rw", uri=True, timeout=30)
    try:
        problems = [str(row[0]) for row in conn.execute("PRAGMA quick_check")]
    finally:
        conn.close()
    if problems != ["ok"]:
        raise DatabaseDamaged("; ".join(problems[:3]))


class Store:
    """Transactions on the job database."""

    def __init__(self, url: str):
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.location = (parsed.database or ":memory:") if self.is_sqlite else parsed.render_as_string(True)
        """The SQLite file, or the URL without its password (for messages)."""
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            kwargs["pool_size"] = 20
        else:
            kwargs["pool_pre_ping"] = True
        self.engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _sqlite_transactions(self.engine)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.engine.execution_options(rf_write=True), expire_on_commit=False)
        try:
            with self._full_disk():
                Base.metadata.create_all(self.engine)
                add_missing_columns(self.engine)
            self.ping()
        except (DiskFull, RuntimeError, DatabaseError, sqlite3.Error) as err:
            self.engine.dispose()
            message = str(err) if isinstance(err, (DiskFull, RuntimeError)) else self.unusable(err)
            raise DatabaseUnusable(message) from err

    def unusable(self, err: Exception) -> str:
        """One line: which database cannot be used, why, and what to do."""
        reason = (str(getattr(err, "orig", None) or err).strip().splitlines() or ["unknown error"])[0]
        damaged = isinstance(err, DatabaseDamaged) or any(
            s in reason for s in ("malformed", "not a database", "corrupt")
        )
        if self.is_sqlite and damaged:
            return (
                f"The job database {self.location} is damaged ({reason}). Stop the service, move {self.location} "
                "and its -wal and -shm files aside, and start it again: the job records are rebuilt from the "
                "job folders' job.json files (or restore a backup of the database)."
            )
        return (
            f"Cannot use the job database {self.location} ({reason}). Check the --db URL, the file or the "
            "server, and its permissions."
        )

    @contextmanager
    def _full_disk(self) -> Iterator[None]:
        """Turn 'database or disk is full' into DiskFull naming the database."""
        try:
            yield
        except OperationalError as err:
            reason = str(err.orig or err)
            if "database or disk is full" not in reason and "No space left" not in reason:
                raise
            raise DiskFull(disk_full_message(f"the job database {self.location}", reason)) from err

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction (committed on exit, rolled back on error; a full disk is DiskFull)."""
        with self._full_disk(), self._write.begin() as session:
            yield session

    def ping(self) -> bool:
        """True when the database answers and is whole (SQLite: PRAGMA quick_check, which reads every
        page; elsewhere a read of the jobs table); else RuntimeError with `unusable`'s message."""
        try:
            if self.is_sqlite and self.location != ":memory:":
                quick_check(self.location)
            with self._read() as session:
                session.execute(select(func.count()).select_from(Job)).scalar()
        except (DatabaseError, sqlite3.Error) as err:
            raise RuntimeError(self.unusable(err)) from err
        return True

    # ---- reads --------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        with self._read() as session:
            return session.get(Job, job_id)

    def list(
        self,
        statuses: Iterable[str] | None = None,
        limit: int = 100,
        offset: int = 0,
        kind: str | None = None,
    ) -> list[Job]:
        """Jobs, newest first, optionally only those in `statuses` and of `kind`."""
        query = select(Job).order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset)
        statuses = list(statuses or [])
        if statuses:
            query = query.where(Job.status.in_(statuses))
        if kind is not None:
            query = query.where(Job.kind == kind)
        with self._read() as session:
            return list(session.scalars(query))

    def queued(self, limit: int) -> list[Job]:
        """The oldest queued jobs (first in, first out)."""
        query = select(Job).where(Job.status == "queued").order_by(Job.created_at, Job.id).limit(limit)
        with self._read() as session:
            return list(session.scalars(query))

    def count(self, statuses: Iterable[str]) -> int:
        query = select(func.count()).select_from(Job).where(Job.status.in_(list(statuses)))
        with self._read() as session:
            return int(session.execute(query).scalar() or 0)

    def counts(self) -> dict[str, int]:
        """Number of jobs per state."""
        query = select(Job.status, func.count()).group_by(Job.status)
        with self._read() as session:
            found = {status: int(n) for status, n in session.execute(query)}
        return {state: found.get(state, 0) for state in STATES}

    def events(self, job_id: str) -> list[JobEvent]:
        query = select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)
        with self._read() as session:
            return list(session.scalars(query))

    def recent_rates(
        self,
        task: str,
        device: str | None = None,
        library: str = DEFAULT_LIBRARY,
        policy_type: str = "PPO",
        limit: int = 5,
    ) -> list[tuple[float, int]]:
        """(seconds per iteration, num_envs) measured by the latest jobs of `task` with `library` and
        `policy_type` on `device`."""
        same_device = Job.device.is_(None) if device is None else Job.device == device
        same_agent = (Job.library == library) & (Job.policy_type == policy_type)
        query = (
            select(Job.s_per_iteration, Job.num_envs)
            .where(Job.task == task, same_device, same_agent, Job.s_per_iteration.is_not(None))
            .order_by(Job.updated_at.desc())
            .limit(limit)
        )
        with self._read() as session:
            return [(float(s), int(n)) for s, n in session.execute(query) if s is not None]

    # ---- writes -------------------------------------------------------------------------------
    def create(self, job: Job, message: str = "queued") -> Job:
        """Insert a new job (status queued) and its first event."""
        now = utcnow()
        job.status, job.created_at, job.updated_at = "queued", job.created_at or now, now
        with self.write() as session:
            session.add(job)
            session.add(JobEvent(job_id=job.id, at=now, status="queued", message=message))
        return job

    def restore(self, job: Job, message: str) -> bool:
        """Insert a job recorded elsewhere (its job.json) as it is, with an event; False if it exists."""
        now = utcnow()
        job.updated_at = now
        with self.write() as session:
            if session.get(Job, job.id) is not None:
                return False
            session.add(job)
            session.add(JobEvent(job_id=job.id, at=now, status=job.status, message=message))
        return True

    def note(self, job_id: str, message: str) -> None:
        """Add an event that changes no state (e.g. an export's outcome) under the job's current state."""
        with self.write() as session:
            job = session.get(Job, job_id)
            if job is not None:
                session.add(JobEvent(job_id=job_id, at=utcnow(), status=job.status, message=message))

    def transition(self, job_id: str, from_states: Iterable[str], to_state: str, message: str = "", **values):
        """Move the job to `to_state` if it is in one of `from_states` (atomically); the updated job, or None."""
        if to_state not in STATES:
            raise ValueError(f"Unknown job state {to_state!r}; states are {', '.join(STATES)}.")
        now = utcnow()
        with self.write() as session:
            result = session.execute(
                sa_update(Job)
                .where(Job.id == job_id, Job.status.in_(list(from_states)))
                .values(status=to_state, updated_at=now, **values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            session.add(JobEvent(job_id=job_id, at=now, status=to_state, message=message))
            return session.get(Job, job_id, populate_existing=True)

    def update(self, job_id: str, in_states: Iterable[str], **values: Any) -> bool:
        """Set fields of a job that is in one of `in_states` (no state change); True if it was."""
        with self.write() as session:
            result = session.execute(
                sa_update(Job)
                .where(Job.id == job_id, Job.status.in_(list(in_states)))
                .values(updated_at=utcnow(), **values)
                .execution_options(synchronize_session=False)
            )
            return result.rowcount == 1  # type: ignore[attr-defined]


def add_missing_columns(engine: Engine, added: dict[str, dict[str, str]] = ADDED_COLUMNS) -> list[str]:
    """`ALTER TABLE ... ADD COLUMN` each column of `added` its table lacks (a database of an older version;
    the default fills the rows there); the `table.column`s added. Another service that adds one at the same
    time is no error."""
    done = []
    for table, columns in added.items():
        for name, ddl in columns.items():
            if _has_column(engine, table, name):
                continue
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}")
            except (OperationalError, ProgrammingError):
                if not _has_column(engine, table, name):  # not a concurrent add: a real failure
                    raise
                continue
            done.append(f"{table}.{name}")
    return done


def _has_column(engine: Engine, table: str, name: str) -> bool:
    return name in {c["name"] for c in inspect(engine).get_columns(table)}


def _sqlite_transactions(engine) -> None:
    """Real transactions on SQLite: BEGIN IMMEDIATE for writes, WAL journal, full fsync, busy wait."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("rf_write") else "BEGIN")
