"""Connecting to the database: one engine per URL, SQLite tuned for many writers, and a
locked database reported as DatabaseBusy whatever the backend."""

from __future__ import annotations

import fcntl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from pydantic_core import to_json
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
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


def _json(value: Any) -> str:
    # Every triage stores its whole result (about 10 kB of JSON): pydantic's encoder takes
    # 17 us for it where the standard library's took 98.
    return to_json(value).decode()


def make_engine(url: str, *, busy_timeout_ms: int = 2000, autocheckpoint: bool = True) -> Engine:
    """An engine for `url`; SQLite files get WAL, a busy timeout and enforced foreign keys,
    and, with `autocheckpoint` off, commits that leave checkpoints to a `Checkpointer`.
    Every engine raises DatabaseBusy when a write finds the database locked."""
    url = normalise_url(url)
    if not url.startswith("sqlite"):
        engine = create_engine(url, pool_pre_ping=True, json_serializer=_json)
        event.listen(engine, "handle_error", _raise_busy)
        return engine
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"timeout": busy_timeout_ms / 1000}, json_serializer=_json
    )
    event.listen(engine, "handle_error", _raise_busy)

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: commits survive a crash
        if not autocheckpoint:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    return engine


def sqlite_file(url: str | URL) -> Path | None:
    """The file of a SQLite file database; None for anything else (:memory:, a server)."""
    url = make_url(normalise_url(url)) if isinstance(url, str) else url
    database = url.database if url.get_backend_name() == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def lock_file_beside(engine: Engine, suffix: str) -> Path | None:
    """`<database file><suffix>` for a SQLite file database; None otherwise."""
    database = sqlite_file(engine.url)
    return None if database is None else Path(f"{database}{suffix}")


@contextmanager
def busy_timeout(connection: Connection, seconds: float | None, usual: float) -> Iterator[None]:
    """SQLite's busy timeout at `seconds` while the block runs, then back at `usual` (None:
    left as it is; the only choice on other databases)."""
    if seconds is None:
        yield
        return
    _pragma(connection, f"busy_timeout={max(round(seconds * 1000), 0)}")
    try:
        yield
    finally:
        _pragma(connection, f"busy_timeout={max(round(usual * 1000), 0)}")


def _pragma(connection: Connection, setting: str) -> None:
    # On the driver's connection: through SQLAlchemy the PRAGMA would open its transaction.
    cursor = connection.connection.cursor()
    try:
        cursor.execute(f"PRAGMA {setting}")
    finally:
        cursor.close()


class WriteTurns:
    """One SQLite transaction at a time in this process, and across processes on one file.

    SQLite's busy handler sleeps and polls (1, 2, 5, 10 ... 100 ms) instead of waking when
    the lock frees: request threads polling together made the p99 seconds long under load,
    and two worker processes writing at a high rate made each other wait tens of
    milliseconds. So writers take turns before SQLite is asked: threads on an RLock, and
    processes on a lock file beside the database, polled at a fine grain (a killed process's
    lock is released by the kernel). SQLite's own handler is then left to writers outside the
    service. The wait for a turn counts against the busy timeout, so with the file locked from
    outside, queued requests give up together, not one after another."""

    def __init__(self, timeout: float, lock_file: Path | None = None) -> None:
        self.timeout = timeout
        self.lock = threading.RLock()
        self.lock_file = lock_file
        self._handle: IO[bytes] | None = None
        self._depth = 0  # nested turns of the thread holding `lock`

    def _file_lock(self, deadline: float) -> None:
        if self.lock_file is None:
            return
        if self._handle is None:
            # kept open while the store lives: the lock belongs to this open file
            self._handle = open(self.lock_file, "a+b")
        pause = 0.0001
        while True:
            try:
                fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                raise _busy(f"another process held the write lock for {self.timeout} s")
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.002)

    def _file_unlock(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)

    def close(self) -> None:
        with self.lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None


def _busy(reason: str) -> DatabaseBusy:
    return DatabaseBusy(None, None, TimeoutError(reason))


@contextmanager
def take_turn(turns: WriteTurns | None, timeout: float | None = None) -> Iterator[None]:
    """Hold this process's turn to write, and the file's among processes (nothing to take
    on PostgreSQL: `turns` is None). `timeout` overrides the turns' own."""
    if turns is None:
        yield
        return
    limit = max(turns.timeout if timeout is None else timeout, 0.0)
    deadline = time.monotonic() + limit
    if not turns.lock.acquire(timeout=limit):
        raise _busy(f"no turn to write within {limit} s")
    try:
        if turns._depth == 0:
            turns._file_lock(deadline)
        turns._depth += 1
        try:
            yield
        finally:
            turns._depth -= 1
            if turns._depth == 0:
                turns._file_unlock()
    finally:
        turns.lock.release()
