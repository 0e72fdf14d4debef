"""Connecting to the database: one engine per URL, SQLite tuned for many writers, and a
locked database reported as DatabaseBusy whatever the backend."""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import OperationalError


class DatabaseBusy(OperationalError):
    """Another writer held the lock: SQLite still locked after the busy timeout, or a
    PostgreSQL lock timeout, serialization failure or deadlock. The same request can succeed
    a moment later. Still an OperationalError, so code catching SQLAlchemy's errors catches it."""


# SQLite's primary result code SQLITE_BUSY; PostgreSQL's lock_not_available,
# serialization_failure and deadlock_detected.
_SQLITE_BUSY = 5
_POSTGRES_BUSY = frozenset({"55P03", "40001", "40P01"})


def is_busy(error: BaseException) -> bool:
    """Whether a driver's error means the database was busy rather than the request wrong."""
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF == _SQLITE_BUSY
    if getattr(error, "sqlstate", None) in _POSTGRES_BUSY:
        return True
    return "database is locked" in str(error)


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here, the driver this package installs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def _raise_busy(context: ExceptionContext) -> None:
    """Turn a busy database's error into DatabaseBusy, for ORM and Core statements alike."""
    if is_busy(context.original_exception):
        raise DatabaseBusy(
            context.statement, context.parameters, context.original_exception
        ) from context.original_exception


def make_engine(url: str, *, busy_timeout_ms: int = 2000) -> Engine:
    """An engine for `url`; SQLite files get WAL, a busy timeout and enforced foreign keys.
    Every engine raises DatabaseBusy when a write finds the database locked."""
    url = normalise_url(url)
    if not url.startswith("sqlite"):
        engine = create_engine(url, pool_pre_ping=True)
        event.listen(engine, "handle_error", _raise_busy)
        return engine
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})
    event.listen(engine, "handle_error", _raise_busy)

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: commits survive a crash
        cursor.close()

    return engine


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """An exclusive lock file beside a SQLite database file (PostgreSQL locks in SQL)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class WriteTurns:
    """One SQLite transaction at a time in this process. SQLite's busy handler sleeps and
    polls instead of waking when the lock frees, and dozens of request threads polling at
    once made the p99 seconds long under load; with turns, only the worker processes wait
    for each other there. The wait for a turn counts against the same busy timeout, so with
    the file locked from outside, queued requests give up together, not one after another."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.lock = threading.RLock()


@contextmanager
def take_turn(turns: WriteTurns | None) -> Iterator[None]:
    """Hold this process's turn to write (nothing to take on PostgreSQL: `turns` is None)."""
    if turns is None:
        yield
        return
    if not turns.lock.acquire(timeout=turns.timeout):
        waited = TimeoutError(f"no turn to write within {turns.timeout} s")
        raise DatabaseBusy(None, None, waited)
    try:
        yield
    finally:
        turns.lock.release()
