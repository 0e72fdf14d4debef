"""`purge`, `erase` and DELETE /v1/cases/{case_ref}, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from classifier.cli import app as cli_app
from classifier.settings import get_settings
from classifier.store import Store
from tests.test_retention import rows, seed

runner = CliRunner()
COMPLAINT = "I was charged twice for order 558120 and I want a refund of the second payment."


def _triage_with_feedback(client: TestClient, case_ref: str) -> str:
    body = client.post("/v1/triage", json={"text": COMPLAINT, "case_ref": case_ref}).json()
    edited = {"subject": f"Case {case_ref}", "body": f"Edited note about {case_ref}"}
    correction = {"triage_id": body["triage_id"], "departments": ["finance"],
                  "escalate": False, "customer_message": edited}  # fmt: skip
    assert client.post("/v1/feedback", json=correction).status_code == 201
    return str(body["triage_id"])


def test_the_endpoint_erases_one_case_and_reports_it(api: TestClient, database_url: str) -> None:
    first = _triage_with_feedback(api, "CRM-1234")
    second = _triage_with_feedback(api, "CRM-1234")
    kept = _triage_with_feedback(api, "CRM-5678")
    handoffs = len(api.get(f"/v1/triages/{first}").json()["handoffs"]) + len(
        api.get(f"/v1/triages/{second}").json()["handoffs"]
    )
    response = api.delete("/v1/cases/CRM-1234")
    assert response.status_code == 200
    report = response.json()
    ids = report["triage_ids"]
    assert report == {"case_ref": "CRM-1234", "dry_run": False, "triages": 2,
                      "handoffs": handoffs, "feedback": 2, "triage_ids": ids}  # fmt: skip
    assert sorted(report["triage_ids"]) == sorted([first, second])
    for gone in (first, second):
        assert api.get(f"/v1/triages/{gone}").status_code == 404
    assert api.get(f"/v1/triages/{kept}").json()["triage"]["case_ref"] == "CRM-5678"
    store = Store.open(database_url)
    try:
        assert rows(store)["triages"] == 1 and rows(store)["feedback"] == 1
    finally:
        store.close()


def test_erasing_through_the_endpoint_is_idempotent(api: TestClient) -> None:
    _triage_with_feedback(api, "CRM-1")
    assert api.delete("/v1/cases/CRM-1").json()["triages"] == 1
    again = api.delete("/v1/cases/CRM-1")
    assert again.status_code == 200
    assert again.json() == {"case_ref": "CRM-1", "dry_run": False, "triages": 0, "handoffs": 0,
                            "feedback": 0, "triage_ids": []}  # fmt: skip


def test_the_endpoint_dry_run_and_a_case_ref_with_a_slash(api: TestClient) -> None:
    triage_id = _triage_with_feedback(api, "CRM/2026/17")
    dry = api.delete("/v1/cases/CRM%2F2026%2F17", params={"dry_run": "true"}).json()
    assert dry["dry_run"] is True and dry["triage_ids"] == [triage_id]
    assert api.get(f"/v1/triages/{triage_id}").status_code == 200
    assert api.delete("/v1/cases/CRM/2026/17").json()["triage_ids"] == [triage_id]
    assert api.get(f"/v1/triages/{triage_id}").status_code == 404


def test_the_endpoint_refuses_an_overlong_case_ref(api: TestClient) -> None:
    response = api.delete("/v1/cases/" + "x" * 65)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "case_ref" in response.json()["detail"]


@pytest.fixture
def cli_store(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("CT_DATABASE_URL", database_url)
    get_settings.cache_clear()
    store = Store.open(database_url)
    yield store
    store.close()
    get_settings.cache_clear()


def test_purge_prints_what_it_removed_and_the_cutoff(cli_store: Store) -> None:
    now = datetime.now(UTC)
    seed(cli_store, case_ref="OLD", created=now - timedelta(days=400))
    seed(cli_store, case_ref="OLD", created=now - timedelta(days=366), corrections=0)
    seed(cli_store, case_ref="NEW", created=now - timedelta(days=364))
    dry = runner.invoke(cli_app, ["purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.output.startswith("would remove 2 triages, 4 handoffs and 1 feedback created before")
    assert rows(cli_store) == {"triages": 3, "handoffs": 6, "feedback": 2}
    result = runner.invoke(cli_app, ["purge"])
    assert result.exit_code == 0, result.output
    found = re.fullmatch(
        r"removed 2 triages, 4 handoffs and 1 feedback created before "
        r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC \(older than 365 days\)\n",
        result.output,
    )
    assert found, result.output
    cutoff = datetime.fromisoformat(found.group(1)).replace(tzinfo=UTC)
    assert abs(cutoff - (now - timedelta(days=365))) < timedelta(minutes=1)
    assert rows(cli_store) == {"triages": 1, "handoffs": 2, "feedback": 1}


def test_purge_takes_its_period_from_the_option_or_the_setting(
    cli_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    seed(cli_store, case_ref="A", created=now - timedelta(days=40))
    seed(cli_store, case_ref="B", created=now - timedelta(days=20))
    monkeypatch.setenv("CT_RETENTION_DAYS", "30")
    get_settings.cache_clear()
    assert "removed 1 triage, 2 handoffs and 1 feedback" in runner.invoke(cli_app, ["purge"]).output
    result = runner.invoke(cli_app, ["purge", "--older-than-days", "10"])
    assert "removed 1 triage, 2 handoffs and 1 feedback" in result.output
    assert "(older than 10 days)" in result.output
    assert rows(cli_store)["triages"] == 0


def test_erase_prints_the_counts_and_the_triage_ids(cli_store: Store) -> None:
    doomed = seed(cli_store, case_ref="CRM-42", corrections=2)
    seed(cli_store, case_ref="CRM-43")
    dry = runner.invoke(cli_app, ["erase", "--case-ref", "CRM-42", "--dry-run"])
    assert dry.output == (
        f"case CRM-42: would erase 1 triage, 2 handoffs and 2 feedback\n  triage {doomed.id}\n"
    )
    assert rows(cli_store)["triages"] == 2
    result = runner.invoke(cli_app, ["erase", "--case-ref", "CRM-42"])
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"case CRM-42: erased 1 triage, 2 handoffs and 2 feedback\n  triage {doomed.id}\n"
    )
    assert rows(cli_store) == {"triages": 1, "handoffs": 2, "feedback": 1}
    again = runner.invoke(cli_app, ["erase", "--case-ref", "CRM-42"])
    assert again.exit_code == 0
    assert again.output == "case CRM-42: erased 0 triages, 0 handoffs and 0 feedback\n"


def test_erase_json_report(cli_store: Store) -> None:
    doomed = seed(cli_store, case_ref="CRM-ß/1")
    result = runner.invoke(cli_app, ["erase", "--case-ref", "CRM-ß/1", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "case_ref": "CRM-ß/1", "dry_run": False, "triages": 1, "handoffs": 2, "feedback": 1,
        "triage_ids": [doomed.id],
    }  # fmt: skip


@pytest.mark.parametrize("where", ["postgresql://nobody@127.0.0.1:9/none", "sqlite:///{file}/db"])
def test_an_unreachable_database_is_an_error_not_a_traceback(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("")  # a file where the database's folder should be
    monkeypatch.setenv("CT_DATABASE_URL", where.format(file=tmp_path / "file"))
    get_settings.cache_clear()
    try:
        result = runner.invoke(cli_app, ["erase", "--case-ref", "X"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "error: cannot open the database" in result.output
