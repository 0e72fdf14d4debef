"""Stored triages, feedback and handoffs over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from classifier import registry
from classifier.catalogue import DEPARTMENT_IDS
from classifier.cli import app as cli
from classifier.data import Record, load_records
from classifier.settings import get_settings
from classifier.store import Store

COMPLAINT = (
    "You charged my card twice for order 55812 and the blender arrived cracked. "
    "Refund the duplicate payment or I will take you to the small claims court."
)


def _triage(api: TestClient, text: str = COMPLAINT) -> dict[str, Any]:
    response = api.post("/v1/triage", json={"text": text, "case_ref": "CRM-77"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


def test_a_triage_is_stored_and_read_back_with_its_handoffs(api: TestClient) -> None:
    result = _triage(api)
    assert result["handoffs"], "the tiny model should route this complaint somewhere"
    stored = api.get(f"/v1/triages/{result['triage_id']}")
    assert stored.status_code == 200
    body = stored.json()
    assert body["triage"] == result  # exactly what the API returned
    assert body["text"] == COMPLAINT and body["context"]["case_ref"] == "CRM-77"
    assert [h["id"] for h in body["handoffs"]] == [h["id"] for h in result["handoffs"]]
    assert {h["status"] for h in body["handoffs"]} == {"drafted"}
    assert body["feedback"] == []
    missing = _problem(api.get("/v1/triages/no-such-id"), 404)
    assert "no-such-id" in missing["detail"]


def test_feedback_is_idempotent_by_key_and_conflicts_on_another_body(api: TestClient) -> None:
    triage_id = _triage(api)["triage_id"]
    body = {
        "triage_id": triage_id,
        "departments": ["finance", "engineering_qc", "legal_compliance"],
        "escalate": True,
        "author": "ana",
        "customer_message": {"subject": "Your refund", "body": "Dear customer, ..."},
    }
    headers = {"Idempotency-Key": "crm-retry-1"}
    first = api.post("/v1/feedback", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = api.post("/v1/feedback", json=body, headers=headers)
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"

    conflict = _problem(
        api.post("/v1/feedback", json={**body, "escalate": False}, headers=headers), 409
    )
    assert "crm-retry-1" in conflict["detail"]
    stored = api.get(f"/v1/triages/{triage_id}").json()["feedback"]
    assert len(stored) == 1 and stored[0]["departments"] == body["departments"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"departments": ["finance", "accounts"]}, "departments"),
        ({"handoffs": {"billing": {"subject": "s", "body": "b"}}}, "handoffs"),
        ({"departments": ["senior_management"], "escalate": False}, "escalate"),
        ({"escalate": "perhaps"}, "escalate"),
    ],
)
def test_bad_feedback_is_422_naming_the_field(
    api: TestClient, change: dict[str, Any], field: str
) -> None:
    body = {"triage_id": "any", "departments": ["finance"], "escalate": False, **change}
    problem = _problem(api.post("/v1/feedback", json=body), 422)
    assert problem["errors"][0]["field"] == field


def test_unknown_department_error_lists_the_known_ids(api: TestClient) -> None:
    body = {"triage_id": "x", "departments": ["accounts"], "escalate": False}
    detail = _problem(api.post("/v1/feedback", json=body), 422)["detail"]
    assert "accounts" in detail and all(d in detail for d in DEPARTMENT_IDS)


def test_feedback_for_an_unknown_triage_is_404(api: TestClient) -> None:
    body = {"triage_id": "nope", "departments": [], "escalate": False}
    assert "nope" in _problem(api.post("/v1/feedback", json=body), 404)["detail"]


def test_handoffs_are_sent_acknowledged_once_and_listed_when_overdue(
    api: TestClient, database_url: str
) -> None:
    handoff = _triage(api)["handoffs"][0]
    sent = api.post(f"/v1/handoffs/{handoff['id']}/sent", json={"by": "ana", "body": "Edited note"})
    assert sent.status_code == 200
    assert sent.json()["status"] == "sent" and sent.json()["body"] == "Edited note"

    # Make it late: its service level ran out an hour ago.
    store = Store.open(database_url)
    with store.engine.begin() as connection:
        from sqlalchemy import update

        from classifier.tables import HandoffRow

        connection.execute(
            update(HandoffRow)
            .where(HandoffRow.id == handoff["id"])
            .values(due=datetime.now(UTC) - timedelta(hours=1))
        )
    store.close()
    overdue = api.get("/v1/handoffs", params={"status": "sent", "overdue": "true"}).json()
    assert [h["id"] for h in overdue] == [handoff["id"]]
    assert overdue[0]["overdue"] is True and overdue[0]["case_ref"] == "CRM-77"

    ack = api.post(f"/v1/handoffs/{handoff['id']}/ack", json={"by": "finance desk"})
    assert ack.status_code == 201 and ack.json()["status"] == "acknowledged"
    again = api.post(f"/v1/handoffs/{handoff['id']}/ack", json={"by": "someone else"})
    assert again.status_code == 200
    assert again.json()["acknowledged_by"] == "finance desk"
    assert again.json()["acknowledged_at"] == ack.json()["acknowledged_at"]
    assert api.get("/v1/handoffs", params={"status": "sent", "overdue": "true"}).json() == []
    assert _problem(api.post("/v1/handoffs/missing/ack", json={"by": "x"}), 404)
    _problem(api.get("/v1/handoffs", params={"status": "lost"}), 422)


def test_feedback_round_trip_into_training(
    api: TestClient,
    database_url: str,
    tmp_path: Path,
    tiny_records: list[Record],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Corrections exported as training data, and `train --include-feedback` learning from
    them, with the frozen test set untouched."""
    test_text = tiny_records[-1].text  # a complaint that is in the (temporary) test set
    corrected = _triage(api)["triage_id"]
    in_test = _triage(api, test_text)["triage_id"]
    for triage_id, departments in ((corrected, ["sales"]), (in_test, ["finance"])):
        body = {"triage_id": triage_id, "departments": departments, "escalate": True}
        assert api.post("/v1/feedback", json=body).status_code == 201
    # a later correction of the same triage wins
    body = {"triage_id": corrected, "departments": ["finance", "legal_compliance"],
            "escalate": True, "author": "team lead"}  # fmt: skip
    assert api.post("/v1/feedback", json=body).status_code == 201

    rows = [
        json.dumps({"id": r.id, "text": r.text, "departments": list(r.departments),
                    "escalate": r.escalate})
        for r in tiny_records
    ]  # fmt: skip
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    train.write_text("\n".join(rows[:240]) + "\n", encoding="utf-8")
    test.write_text("\n".join(rows[240:]) + "\n", encoding="utf-8")
    models_dir = tmp_path / "trained"
    monkeypatch.setenv("CT_DATABASE_URL", database_url)
    monkeypatch.setenv("CT_TEST_DATA", str(test))
    monkeypatch.setenv("CT_MODELS_DIR", str(models_dir))
    get_settings.cache_clear()
    try:
        exported = tmp_path / "feedback.jsonl"
        result = CliRunner().invoke(cli, ["feedback", "export", "--output", str(exported)])
        assert result.exit_code == 0, result.output
        assert "exported 1 corrected triage" in result.output and "left out 1" in result.output
        (record,) = load_records(exported)  # valid training data, in the training format
        assert record.text == COMPLAINT and record.id == f"fb-{corrected}"
        assert record.departments == ("finance", "legal_compliance") and record.escalate

        before = test.read_bytes()
        result = CliRunner().invoke(cli, ["train", "--data", str(train), "--include-feedback"])
        assert result.exit_code == 0, result.output
        version = registry.champion(models_dir)
        assert version is not None
        metadata = registry.read_metadata(models_dir, version)
        assert metadata["feedback"]["records"] == 1
        assert metadata["feedback"]["left_out_in_test_set"] == 1
        assert metadata["training_data"]["records"] == 241
        assert metadata["test_data"]["records"] == 60 and test.read_bytes() == before
        assert "corrected triages (feedback" in (models_dir / version / "card.md").read_text()
    finally:
        get_settings.cache_clear()
