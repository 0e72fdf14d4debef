"""The writer stores what the event loop triaged: many requests per transaction, never
blocking the loop, a locked database answered as busy within the busy timeout."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from classifier.store import DatabaseBusy, NewHandoff, NewTriage, Store
from classifier.writer import TriageWriter

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BUSY_TIMEOUT = 0.3


def new_triage(triage_id: str | None = None) -> NewTriage:
    triage_id = triage_id or str(uuid.uuid4())
    return NewTriage(
        triage_id, f"CASE-{triage_id[:6]}", NOW, "v-test", "You charged me twice.",
        {"channel": "email"}, {"departments": [{"id": "finance"}]}, False, False,
        (NewHandoff(str(uuid.uuid4()), "finance", "subject", "body", NOW + timedelta(hours=8)),),
    )  # fmt: skip


def stored_ids(store: Store) -> set[str]:
    with store.engine.connect() as connection:
        return set(connection.execute(text("SELECT id FROM triages")).scalars())


class Counting:
    """Wraps a store's save_triages to count transactions."""

    def __init__(self, store: Store) -> None:
        self.calls: list[int] = []
        self.save = store.save_triages
        store.save_triages = self  # type: ignore[method-assign]

    def __call__(self, triages: list[NewTriage], **kwargs: Any) -> None:
        self.save(triages, **kwargs)
        self.calls.append(len(triages))


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'writer.db'}", busy_timeout=BUSY_TIMEOUT)
    yield opened
    opened.close()


def test_triages_handed_over_together_share_one_transaction(store: Store) -> None:
    counting = Counting(store)
    writer = TriageWriter(store)
    groups = [[new_triage(), new_triage()] for _ in range(10)]

    async def hand_over() -> None:
        await asyncio.gather(*(writer.save(g) for g in groups))

    asyncio.run(hand_over())
    writer.close()
    assert stored_ids(store) == {t.triage_id for g in groups for t in g}
    assert counting.calls == [20]  # on SQLite and on PostgreSQL alike


def test_a_burst_is_split_into_transactions_of_bounded_size(sqlite_store: Store) -> None:
    counting = Counting(sqlite_store)
    writer = TriageWriter(sqlite_store, max_per_commit=8)

    async def hand_over() -> None:
        await asyncio.gather(*(writer.save([new_triage(), new_triage(), new_triage()])
                               for _ in range(6)))  # fmt: skip

    asyncio.run(hand_over())
    assert len(stored_ids(sqlite_store)) == 18
    assert counting.calls == [6, 6, 6]  # whole groups only: two of three fit in eight


def test_one_refused_group_does_not_fail_the_others(store: Store) -> None:
    taken = new_triage()
    store.save_triages([taken])
    writer = TriageWriter(store)
    good = [[new_triage()] for _ in range(3)]

    async def hand_over() -> list[BaseException | None]:
        return await asyncio.gather(
            writer.save(good[0]), writer.save([new_triage(taken.triage_id)]),
            writer.save(good[1]), writer.save(good[2]), return_exceptions=True,
        )  # fmt: skip

    outcomes = asyncio.run(hand_over())
    writer.close()
    assert outcomes[0] is None and outcomes[2] is None and outcomes[3] is None
    assert isinstance(outcomes[1], Exception) and not isinstance(outcomes[1], DatabaseBusy)
    assert stored_ids(store) == {taken.triage_id} | {g[0].triage_id for g in good}


def locked_sqlite(store: Store) -> sqlite3.Connection:
    """Another connection takes SQLite's write lock and keeps it until rolled back."""
    holder = sqlite3.connect(str(store.engine.url.database), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_a_locked_database_leaves_the_loop_free_and_answers_busy_in_time(
    sqlite_store: Store,
) -> None:
    writer = TriageWriter(sqlite_store)
    holder = locked_sqlite(sqlite_store)

    async def meanwhile() -> tuple[BaseException | None, float, int]:
        ticks = 0
        start = time.monotonic()
        saving = asyncio.ensure_future(writer.save([new_triage()]))
        while not saving.done():  # the loop keeps turning while the write waits
            await asyncio.sleep(0.005)
            ticks += 1
        return saving.exception(), time.monotonic() - start, ticks

    try:
        error, waited, ticks = asyncio.run(meanwhile())
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert isinstance(error, DatabaseBusy)
    assert BUSY_TIMEOUT - 0.05 <= waited < BUSY_TIMEOUT + 0.25
    assert ticks >= 20  # 5 ms sleeps through a 300 ms wait: the loop was never blocked
    assert stored_ids(sqlite_store) == set()


def test_triages_wait_for_a_lock_that_frees_and_are_then_stored(sqlite_store: Store) -> None:
    writer = TriageWriter(sqlite_store)
    holder = locked_sqlite(sqlite_store)
    triages = [new_triage() for _ in range(5)]

    async def hand_over() -> None:
        asyncio.get_running_loop().call_later(0.1, holder.execute, "ROLLBACK")
        await asyncio.gather(*(writer.save([t]) for t in triages))

    try:
        asyncio.run(hand_over())
    finally:
        holder.close()
    assert stored_ids(sqlite_store) == {t.triage_id for t in triages}


def test_another_process_holding_the_write_turn_is_waited_for_not_failed(
    sqlite_store: Store, tmp_path: Path
) -> None:
    """Two worker processes take turns on the lock file beside the database: one holding
    it briefly delays the other's writes, it does not fail them."""
    other = Store.open(str(sqlite_store.engine.url), busy_timeout=BUSY_TIMEOUT)
    writer = TriageWriter(sqlite_store)
    triage = new_triage()

    async def hand_over() -> float:
        start = time.monotonic()
        with other.writing():  # its own lock file handle: as another process would hold it
            saving = asyncio.ensure_future(writer.save([triage]))
            await asyncio.sleep(0.1)
            assert not saving.done()
        await saving
        return time.monotonic() - start

    try:
        waited = asyncio.run(hand_over())
    finally:
        other.close()
    assert 0.1 <= waited < BUSY_TIMEOUT
    assert stored_ids(sqlite_store) == {triage.triage_id}


def test_a_server_store_copies_the_log_back_on_its_own_thread(tmp_path: Path) -> None:
    database = tmp_path / "checkpoints.db"
    server = Store.open(f"sqlite:///{database}", background_checkpoints=True)
    command = Store.open(f"sqlite:///{database}")  # as the CLI opens it
    try:
        with server.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        with command.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        assert server.checkpointer is not None and command.checkpointer is None
        copied_before = database.stat().st_size
        server.save_triages([new_triage() for _ in range(50)])  # a few hundred pages
        deadline = time.monotonic() + 5
        while database.stat().st_size == copied_before and time.monotonic() < deadline:
            time.sleep(0.05)
        # the commit left the pages in the log; the thread copied them into the file
        assert database.stat().st_size > copied_before
        assert stored_ids(command) and len(stored_ids(command)) == 50
    finally:
        command.close()
        server.close()
