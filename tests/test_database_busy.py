"""A database locked by another writer: triage still answers (marked not stored), writes
answer 503 problem+json with Retry-After, never 500; on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from classifier import registry
from classifier.api.app import create_app
from classifier.engine import is_busy
from classifier.settings import Settings
from classifier.store import DatabaseBusy, Store
from tests.test_store import NOW, _triage

BUSY_TIMEOUT = 0.3
COMPLAINT = "You charged my card twice for order 55812. Refund the duplicate payment now."


@contextmanager
def locked(database: Path) -> Iterator[None]:
    """Another connection holds SQLite's write lock (BEGIN IMMEDIATE) until the block ends."""
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "var" / "busy.db"


@pytest.fixture
def api(
    settings: Settings, database: Path, tiny_loaded: registry.LoadedModel
) -> Iterator[TestClient]:
    configured = settings.model_copy(
        update={"database_url": f"sqlite:///{database}", "database_busy_timeout": BUSY_TIMEOUT}
    )
    with TestClient(create_app(configured, model=tiny_loaded)) as test_client:
        yield test_client


def timed_post(api: TestClient, path: str, **kwargs: Any) -> tuple[Any, float]:
    start = time.monotonic()
    response = api.post(path, **kwargs)
    return response, time.monotonic() - start


def test_sqlite_busy_timeout_comes_from_the_setting(api: TestClient) -> None:
    store: Store = api.app.state.store  # type: ignore[attr-defined]
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 300
        # NORMAL in WAL: a commit survives the process being killed (the kill test shows it),
        # not a power loss; see the README.
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 1


def test_triage_answers_while_locked_and_says_it_was_not_stored(
    api: TestClient, database: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with locked(database):
        response, seconds = timed_post(api, "/v1/triage", json={"text": COMPLAINT})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["stored"] is False
    assert body["departments"] and body["customer_message"]["body"]  # a full triage
    assert BUSY_TIMEOUT * 0.9 <= seconds < BUSY_TIMEOUT + 2, seconds  # waited, then gave up
    assert f"triage {body['triage_id']} not stored: database busy" in caplog.text
    # Its id names nothing stored, as the README says.
    assert api.get(f"/v1/triages/{body['triage_id']}").status_code == 404

    again = api.post("/v1/triage", json={"text": COMPLAINT})
    assert again.json()["stored"] is True
    stored = api.get(f"/v1/triages/{again.json()['triage_id']}")
    assert stored.status_code == 200 and stored.json()["triage"]["stored"] is True


def test_feedback_while_locked_is_503_with_retry_after_then_works(
    api: TestClient, database: Path
) -> None:
    triage_id = api.post("/v1/triage", json={"text": COMPLAINT}).json()["triage_id"]
    feedback = {"triage_id": triage_id, "departments": ["finance"], "escalate": False}
    headers = {"Idempotency-Key": "busy-1"}
    with locked(database):
        response, seconds = timed_post(api, "/v1/feedback", json=feedback, headers=headers)
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert int(response.headers["retry-after"]) > 0
        problem = response.json()
        assert problem["status"] == 503 and problem["instance"] == "/v1/feedback"
        assert "database is busy" in problem["detail"], problem
        assert "Traceback" not in response.text and "INSERT" not in response.text
        assert BUSY_TIMEOUT * 0.9 <= seconds < BUSY_TIMEOUT + 2, seconds
        # Reads go on in WAL mode while the lock is held: the triage has no feedback.
        assert api.get(f"/v1/triages/{triage_id}").json()["feedback"] == []

    retried = api.post("/v1/feedback", json=feedback, headers=headers)
    assert retried.status_code == 201, retried.text  # stored now, not replayed
    assert api.get(f"/v1/triages/{triage_id}").json()["feedback"][0]["departments"] == ["finance"]


def test_handoff_acknowledgement_while_locked_is_503(api: TestClient, database: Path) -> None:
    handoff = api.post("/v1/triage", json={"text": COMPLAINT}).json()["handoffs"][0]
    with locked(database):
        response = api.post(f"/v1/handoffs/{handoff['id']}/ack", json={"by": "finance lead"})
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "retry-after" in response.headers


def test_the_web_page_says_the_triage_could_not_be_saved(api: TestClient, database: Path) -> None:
    with locked(database):
        response = api.post("/", data={"text": COMPLAINT})
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert "database is busy" in response.text


def test_busy_errors_are_told_apart_from_other_database_errors() -> None:
    assert is_busy(psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"))
    assert is_busy(psycopg.errors.SerializationFailure("could not serialize access"))
    assert is_busy(psycopg.errors.DeadlockDetected("deadlock detected"))
    assert not is_busy(psycopg.errors.UndefinedTable('relation "x" does not exist'))
    assert not is_busy(sqlite3.OperationalError("no such table: x"))
    assert not is_busy(ValueError("database is fine"))


def test_postgresql_lock_timeout_raises_database_busy(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's busy timeout is covered above")
    # The way the README tells operators to bound lock waits on PostgreSQL.
    store = Store.open(database_url.replace("options=", "options=-clock_timeout%3D200%20"))
    try:
        handoff = _triage(store).handoffs[0]
        with store.engine.connect() as holder:
            holder.execute(
                text("SELECT id FROM handoffs WHERE id = :id FOR UPDATE"), {"id": handoff.id}
            )
            with pytest.raises(DatabaseBusy) as raised:
                store.acknowledge(handoff.id, by="finance", now=NOW)
            holder.rollback()
        assert raised.value.orig.sqlstate == "55P03"  # type: ignore[union-attr]
        assert store.acknowledge(handoff.id, by="finance", now=NOW)[1] is True
    finally:
        store.close()
