"""The store, on SQLite and on PostgreSQL through the same code (see `database_url`)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from classifier.migrations import HEAD_REVISION, MIGRATIONS
from classifier.store import (
    Correction,
    IdempotencyConflict,
    NewHandoff,
    NotFound,
    Store,
    StoredTriage,
)

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _triage(
    store: Store,
    departments: tuple[str, ...] = ("finance",),
    *,
    escalate: bool = False,
    needs_review: bool = False,
    created: datetime = NOW,
    due_in: timedelta = timedelta(hours=8),
    text_: str = "You charged me twice for order 55812.",
) -> StoredTriage:
    triage_id = str(uuid.uuid4())
    return store.save_triage(
        triage_id=triage_id,
        case_ref=f"CASE-{triage_id[:6]}",
        created=created,
        model_version="v-test",
        text=text_,
        context={"channel": "email", "tier": "gold"},
        result={"departments": [{"id": d} for d in departments], "needs_review": needs_review},
        escalate=escalate,
        needs_review=needs_review,
        handoffs=[
            NewHandoff(str(uuid.uuid4()), d, f"{d} subject", f"{d} body", created + due_in)
            for d in departments
        ],
    )


def _together(work: Callable[[], None], threads: int) -> list[BaseException]:
    """Run `work` in several threads at once; the exceptions they raised."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            errors.append(exc)

    started = [threading.Thread(target=run) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    return errors


def test_migrations_create_the_schema_and_running_them_again_changes_nothing(
    store: Store,
) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {"triages", "feedback", "handoffs", "alembic_version"} <= tables
    store.migrate()
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).all() == [
            (HEAD_REVISION,)
        ]


def test_head_revision_names_the_newest_migration() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


def test_a_triage_comes_back_as_stored_with_aware_times(store: Store) -> None:
    saved = _triage(store, ("finance", "logistics_operations"), escalate=True)
    found = store.triage(saved.id)
    assert found == saved
    assert found.created == NOW and found.created.tzinfo is not None
    assert found.departments == ("finance", "logistics_operations")
    assert [h.department for h in found.handoffs] == ["finance", "logistics_operations"]
    assert {h.status for h in found.handoffs} == {"drafted"}
    assert found.context == {"channel": "email", "tier": "gold"}
    with pytest.raises(NotFound, match="no triage"):
        store.triage("missing")


def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(Exception, match="naive"):
        _triage(store, created=datetime(2026, 1, 1))


def test_recent_triages_filter_by_department_escalation_review_and_acknowledgement(
    store: Store,
) -> None:
    a = _triage(store, ("finance",), created=NOW - timedelta(hours=3))
    b = _triage(store, ("legal_compliance",), escalate=True, created=NOW - timedelta(hours=2))
    c = _triage(store, ("finance", "engineering_qc"), needs_review=True, created=NOW)
    for handoff in a.handoffs:
        store.acknowledge(handoff.id, by="fin", now=NOW)
    assert [t.id for t in store.triages()] == [c.id, b.id, a.id]  # newest first
    assert [t.id for t in store.triages(department="finance")] == [c.id, a.id]
    assert [t.id for t in store.triages(escalated=True)] == [b.id]
    assert [t.id for t in store.triages(needs_review=True)] == [c.id]
    assert [t.id for t in store.triages(unacknowledged=True)] == [c.id, b.id]
    assert [t.id for t in store.triages(unacknowledged=False)] == [a.id]
    assert [t.id for t in store.triages(limit=1, offset=1)] == [b.id]


def test_the_same_idempotency_key_and_body_returns_the_first_feedback(store: Store) -> None:
    triage = _triage(store)
    correction = Correction(("finance", "legal_compliance"), True, "ana")
    first, created = store.add_feedback(triage.id, correction, now=NOW, key="k-1")
    again, created_again = store.add_feedback(
        triage.id,
        Correction(("legal_compliance", "finance"), True, "ana"),  # order does not matter
        now=NOW + timedelta(minutes=5),
        key="k-1",
    )
    assert created and not created_again
    assert again == first and again.created == NOW
    assert len(store.triage(triage.id).feedback) == 1


def test_the_same_key_with_another_body_is_a_conflict_and_stores_nothing(store: Store) -> None:
    triage = _triage(store)
    store.add_feedback(triage.id, Correction(("finance",), False, "ana"), now=NOW, key="k-2")
    with pytest.raises(IdempotencyConflict, match="different body"):
        store.add_feedback(triage.id, Correction(("finance",), True, "ana"), now=NOW, key="k-2")
    assert [f.escalate for f in store.triage(triage.id).feedback] == [False]


def test_feedback_without_a_key_is_stored_each_time_and_needs_a_known_triage(
    store: Store,
) -> None:
    triage = _triage(store)
    for _ in range(2):
        store.add_feedback(triage.id, Correction(("finance",), False, "ana"), now=NOW)
    assert len(store.triage(triage.id).feedback) == 2
    with pytest.raises(NotFound):
        store.add_feedback("missing", Correction(("finance",), False, "ana"), now=NOW)


def test_concurrent_requests_with_one_key_store_one_row(store: Store) -> None:
    triage = _triage(store)
    correction = Correction(("finance",), True, "ana", comment="double click")
    results: list[int] = []

    def send() -> None:
        results.append(store.add_feedback(triage.id, correction, now=NOW, key="k-3")[0].id)

    assert _together(send, 8) == []
    assert len(set(results)) == 1 and len(results) == 8
    assert len(store.triage(triage.id).feedback) == 1


def test_acknowledging_twice_keeps_the_first_acknowledgement(store: Store) -> None:
    handoff = _triage(store).handoffs[0]
    sent = store.mark_sent(handoff.id, by="ana", now=NOW, body="edited body")
    assert (sent.status, sent.sent_by, sent.body) == ("sent", "ana", "edited body")
    first, created = store.acknowledge(handoff.id, by="fin-team", now=NOW, note="on it")
    again, created_again = store.acknowledge(
        handoff.id, by="someone else", now=NOW + timedelta(hours=1)
    )
    assert created and not created_again and again == first
    assert (first.status, first.acknowledged_by, first.acknowledged_at) == (
        "acknowledged",
        "fin-team",
        NOW,
    )
    # sending again later does not undo the acknowledgement
    assert store.mark_sent(handoff.id, by="ana", now=NOW).status == "acknowledged"
    with pytest.raises(NotFound, match="no handoff"):
        store.acknowledge("missing", by="x", now=NOW)


def test_overdue_lists_unacknowledged_handoffs_past_their_service_level(store: Store) -> None:
    late_sent = _triage(store, due_in=timedelta(hours=-5)).handoffs[0]
    late_drafted = _triage(store, due_in=timedelta(hours=-1)).handoffs[0]
    late_but_acknowledged = _triage(store, due_in=timedelta(hours=-9)).handoffs[0]
    on_time = _triage(store, due_in=timedelta(hours=4)).handoffs[0]
    for handoff in (late_sent, late_but_acknowledged, on_time):
        store.mark_sent(handoff.id, by="ana", now=NOW)
    store.acknowledge(late_but_acknowledged.id, by="fin", now=NOW)

    overdue_sent = store.handoffs(now=NOW, status="sent", overdue=True)
    assert [h.id for h in overdue_sent] == [late_sent.id]
    assert [h.id for h in store.handoffs(now=NOW, overdue=True)] == [
        late_sent.id,  # the longest overdue first
        late_drafted.id,
    ]
    assert {h.id for h in store.handoffs(now=NOW, overdue=False)} == {
        late_but_acknowledged.id,
        on_time.id,
    }
    assert all(h.overdue(NOW) for h in overdue_sent)
    assert overdue_sent[0].case_ref.startswith("CASE-")


def test_training_examples_take_each_triages_latest_correction(store: Store) -> None:
    one = _triage(store, text_="first complaint")
    two = _triage(store, text_="second complaint")
    _triage(store, text_="never corrected")
    store.add_feedback(one.id, Correction(("finance",), False, "ana"), now=NOW)
    store.add_feedback(two.id, Correction(("sales",), False, "ana"), now=NOW)
    store.add_feedback(
        one.id, Correction(("legal_compliance",), True, "bo"), now=NOW + timedelta(minutes=1)
    )
    examples = {e.text: e for e in store.training_examples()}
    assert set(examples) == {"first complaint", "second complaint"}
    assert examples["first complaint"].departments == ("legal_compliance",)
    assert examples["first complaint"].escalate is True
    assert examples["second complaint"].channel == "email"


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'nested' / 'var' / 'x.db'}")
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 2000
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    store.close()


def test_workers_starting_together_migrate_once_without_errors(database_url: str) -> None:
    assert _together(lambda: Store.open(database_url).close(), 4) == []
    store = Store.open(database_url)
    assert store.triages() == []
    store.close()
