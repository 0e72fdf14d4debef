"""examples/crm_client.py against a real server: keys, retries on 429 and 503, idempotency."""

from __future__ import annotations

import importlib.util
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from classifier.keys import KeyRing
from classifier.settings import PROJECT_ROOT
from classifier.store import Store
from tests.serving import running_server

pytestmark = pytest.mark.slow
COMPLAINT = "I was charged twice for order 4471 and want the second payment refunded."


def _client_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "crm_client", PROJECT_ROOT / "examples" / "crm_client.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["crm_client"] = module
    spec.loader.exec_module(module)
    return module


def _key(directory: Path, *scopes: str) -> str:
    store = Store.open(f"sqlite:///{directory / 'triage.db'}")
    try:
        return KeyRing(store.engine).create("crm", scopes, datetime.now(UTC))[1]
    finally:
        store.close()


def test_client_triages_retries_429_and_sends_feedback_once(
    tmp_path: Path, models_dir_with_champion: tuple[Path, str]
) -> None:
    crm = _client_module()
    models_dir, version = models_dir_with_champion
    limits = {"CT_REQUIRE_KEYS": "true", "CT_RATE_LIMIT": "1/second"}
    with running_server(tmp_path, models_dir, env=limits) as server:
        waits: list[float] = []

        def wait(seconds: float) -> None:
            waits.append(seconds)
            time.sleep(seconds)

        client = crm.TriageClient(server.base, _key(tmp_path, "triage", "feedback"), sleep=wait)
        first = client.triage(COMPLAINT, case_ref="CRM-77")
        second = client.triage(COMPLAINT, case_ref="CRM-78")  # over 1/second: 429, then retried
        assert first["model_version"] == version and second["case_ref"] == "CRM-78"
        assert client.retries >= 1 and all(1 <= w <= 2 for w in waits), waits
        stored = client.feedback(first["triage_id"], ["finance"], False, "agent-7",
                                 idempotency_key="crm-77-fix-1")  # fmt: skip
        replay = client.feedback(first["triage_id"], ["finance"], False, "agent-7",
                                 idempotency_key="crm-77-fix-1")  # fmt: skip
        assert replay["feedback_id"] == stored["feedback_id"] and stored["departments"] == [
            "finance"
        ]
        with pytest.raises(crm.TriageError) as denied:
            crm.TriageClient(server.base, "ct_bad_key").triage(COMPLAINT)
        assert denied.value.status == 401 and "not valid" in denied.value.detail


def test_client_retries_503_then_reports_the_servers_reason(tmp_path: Path) -> None:
    crm = _client_module()
    empty_models = tmp_path / "models"
    empty_models.mkdir()
    with running_server(tmp_path, empty_models, ready=False) as server:
        waits: list[float] = []
        client = crm.TriageClient(server.base, attempts=3, backoff=0.01, sleep=waits.append)
        with pytest.raises(crm.TriageError) as failed:
            client.triage(COMPLAINT)
        assert failed.value.status == 503 and "no model is ready" in failed.value.detail
        assert client.retries == 2 and len(waits) == 2
