"""The real server: uvicorn in a subprocess, called over a socket."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from classifier.catalogue import DEPARTMENT_IDS
from classifier.model import TriageModel
from tests.serving import running_server

pytestmark = pytest.mark.slow


@pytest.fixture
def server(models_dir_with_champion: tuple[Path, str], tmp_path: Path) -> Iterator[tuple[str, str]]:
    models_dir, version = models_dir_with_champion
    with running_server(tmp_path, models_dir) as running:
        yield running.base, version


def test_real_server_triages_over_http(server: tuple[str, str], tiny_model: TriageModel) -> None:
    base, version = server
    text = "The courier lost my parcel, order 77120, and I need a refund."
    expected = {
        label
        for label, flag in zip(DEPARTMENT_IDS, tiny_model.predict([text])[0], strict=False)
        if flag
    }
    assert httpx.get(f"{base}/readyz").json() == {"status": "ready", "model_version": version}
    response = httpx.post(
        f"{base}/v1/triage",
        json={"text": text, "case_ref": "CRM-77"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == version
    assert {d["id"] for d in body["departments"]} == expected
    assert "logistics_operations" in expected
    assert all("CRM-77" in h["body"] for h in body["handoffs"])


def test_real_server_rejects_a_chunked_oversized_body(
    server: tuple[str, str], streamed_json: Callable[[int], Iterator[bytes]]
) -> None:
    base, _ = server
    response = httpx.post(
        f"{base}/v1/triage",
        content=streamed_json(100),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
