"""Retention and erasure in the store, on SQLite and PostgreSQL (see `database_url`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from classifier.retention import Removal, erase_case, purge
from classifier.store import Correction, NewHandoff, NotFound, Store, StoredTriage

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
TABLES = ("triages", "handoffs", "feedback")


def seed(
    store: Store,
    *,
    case_ref: str,
    created: datetime = NOW,
    departments: tuple[str, ...] = ("finance", "sales"),
    corrections: int = 1,
) -> StoredTriage:
    """A triage with one handoff per department and `corrections` feedback rows (with an
    edited draft, which must go with it)."""
    triage_id = str(uuid.uuid4())
    handoffs = [NewHandoff(str(uuid.uuid4()), d, "subject", "body", created) for d in departments]
    triage = store.save_triage(
        triage_id=triage_id, case_ref=case_ref, created=created, model_version="v-test",
        text=f"Complaint of {case_ref}: charged twice.", context={"case_ref": case_ref},
        result={"case_ref": case_ref}, escalate=False, needs_review=False,
        handoffs=handoffs,
    )  # fmt: skip
    for n in range(corrections):
        edited = {"finance": {"subject": f"edited {case_ref}", "body": f"about {case_ref}"}}
        correction = Correction(("finance",), False, "ana", handoffs=edited, comment=f"n{n}")
        store.add_feedback(triage_id, correction, now=created, key=f"{triage_id}-{n}")
    return triage


def rows(store: Store) -> dict[str, int]:
    with store.engine.connect() as connection:
        return {t: int(connection.scalar(text(f"SELECT count(*) FROM {t}")) or 0) for t in TABLES}


@pytest.fixture
def aged(store: Store) -> dict[str, list[StoredTriage]]:
    """Three triages older than 30 days and two younger, each with 2 handoffs and 1
    correction (the last young one has 2 corrections)."""
    old = [seed(store, case_ref=f"OLD-{n}", created=NOW - timedelta(days=31 + n)) for n in range(3)]
    young = [
        seed(store, case_ref="YOUNG-0", created=NOW - timedelta(days=29)),
        seed(store, case_ref="YOUNG-1", created=NOW, corrections=2),
    ]
    return {"old": old, "young": young}


def test_purge_removes_only_old_triages_with_their_handoffs_and_feedback(
    store: Store, aged: dict[str, list[StoredTriage]]
) -> None:
    assert rows(store) == {"triages": 5, "handoffs": 10, "feedback": 6}
    removed = purge(store, before=NOW - timedelta(days=30))
    assert removed == Removal(triages=3, handoffs=6, feedback=3)
    assert rows(store) == {"triages": 2, "handoffs": 4, "feedback": 3}
    for triage in aged["old"]:
        with pytest.raises(NotFound):
            store.triage(triage.id)
    for triage in aged["young"]:
        kept = store.triage(triage.id)
        assert len(kept.handoffs) == 2 and kept.feedback
    assert purge(store, before=NOW - timedelta(days=30)) == Removal()


def test_a_dry_run_counts_what_a_purge_removes_and_removes_nothing(
    store: Store, aged: dict[str, list[StoredTriage]]
) -> None:
    before = rows(store)
    counted = purge(store, before=NOW - timedelta(days=30), dry_run=True)
    assert counted == Removal(triages=3, handoffs=6, feedback=3)
    assert rows(store) == before
    assert purge(store, before=NOW - timedelta(days=30)) == counted


def test_the_cutoff_is_strict_and_must_be_an_aware_time(store: Store) -> None:
    seed(store, case_ref="EDGE", created=NOW)
    assert purge(store, before=NOW) == Removal()
    assert purge(store, before=NOW + timedelta(microseconds=1)).triages == 1
    with pytest.raises(ValueError, match="aware"):
        purge(store, before=datetime(2026, 1, 1))


@pytest.fixture
def statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements the store's engine runs, from now on."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(store.engine, "before_cursor_execute", record)
    yield seen
    event.remove(store.engine, "before_cursor_execute", record)


def test_purge_deletes_in_batches_each_its_own_transaction(
    store: Store, statements: list[str]
) -> None:
    for n in range(5):
        seed(store, case_ref=f"B-{n}", created=NOW - timedelta(days=100 + n), corrections=0)
    commits = 0

    def count(_conn: Any) -> None:
        nonlocal commits
        commits += 1

    event.listen(store.engine, "commit", count)
    statements.clear()
    try:
        removed = purge(store, before=NOW, batch=2)
    finally:
        event.remove(store.engine, "commit", count)
    assert removed == Removal(triages=5, handoffs=10, feedback=0)
    deletes = [s for s in statements if s.startswith("DELETE FROM triages")]
    # 2 + 2 + 1, then an empty batch ends the loop
    assert len(deletes) == 3 and commits == 4
    assert rows(store) == {"triages": 0, "handoffs": 0, "feedback": 0}


def test_erase_removes_every_triage_of_one_case_and_nothing_else(store: Store) -> None:
    first = seed(store, case_ref="CRM-1234", created=NOW - timedelta(days=2))
    second = seed(store, case_ref="CRM-1234", departments=("legal_compliance",), corrections=2)
    other = seed(store, case_ref="CRM-9999")
    similar = seed(store, case_ref="crm-1234")  # another case: references are exact
    removed = erase_case(store, "CRM-1234")
    assert removed == Removal(2, 3, 3, (first.id, second.id))
    assert rows(store) == {"triages": 2, "handoffs": 4, "feedback": 2}
    assert store.triage(other.id).case_ref == "CRM-9999"
    assert store.triage(similar.id).case_ref == "crm-1234"
    with store.engine.connect() as connection:
        left = connection.execute(text("SELECT handoffs, comment FROM feedback")).all()
    assert all("CRM-1234" not in str(row) for row in left)


def test_erasing_again_or_an_unknown_case_removes_nothing(store: Store) -> None:
    seed(store, case_ref="CRM-1")
    assert erase_case(store, "CRM-1").triages == 1
    assert erase_case(store, "CRM-1") == Removal()
    assert erase_case(store, "never-stored") == Removal()


def test_an_erasure_dry_run_names_the_triages_and_removes_nothing(store: Store) -> None:
    stored = seed(store, case_ref="CRM-7", corrections=2)
    before = rows(store)
    assert erase_case(store, "CRM-7", dry_run=True) == Removal(1, 2, 2, (stored.id,))
    assert rows(store) == before


def test_the_database_itself_cascades_a_deleted_triage_to_its_children(store: Store) -> None:
    """Not the ORM: a plain DELETE on triages (as a DBA or another tool would run it) takes
    the handoffs and feedback with it, on SQLite (foreign keys on) and PostgreSQL."""
    doomed = seed(store, case_ref="FK-1", corrections=2)
    kept = seed(store, case_ref="FK-2")
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM triages WHERE id = :id"), {"id": doomed.id})
    assert rows(store) == {"triages": 1, "handoffs": 2, "feedback": 1}
    assert store.triage(kept.id).feedback


def test_an_erased_case_leaves_no_bytes_in_the_sqlite_file(tmp_path: Path) -> None:
    """Deleted rows' bytes are zeroed, not left in free pages, whatever the build's default."""
    store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")

    @event.listens_for(store.engine, "connect")
    def _insecure(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA secure_delete=OFF")

    store.engine.dispose()
    try:
        for n in range(20):
            seed(store, case_ref=f"KEEP-{n}")
        seed(store, case_ref="SECRET-4711", corrections=2)
        assert erase_case(store, "SECRET-4711").triages == 1
        with store.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        store.close()
    stored = b"".join(f.read_bytes() for f in tmp_path.iterdir() if f.name.startswith("db."))
    assert stored.count(b"KEEP-1") and not stored.count(b"SECRET-4711")
