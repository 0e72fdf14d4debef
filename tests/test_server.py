"""The real server: uvicorn in a subprocess, called over a socket."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from classifier.catalogue import DEPARTMENT_IDS
from classifier.model import TriageModel

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(models_dir_with_champion: tuple[Path, str]) -> Iterator[tuple[str, str]]:
    models_dir, version = models_dir_with_champion
    port = free_port()
    env = {**os.environ, "CT_MODELS_DIR": str(models_dir)}
    process = subprocess.Popen(
        [sys.executable, "-m", "classifier.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(process.stdout.read().decode() if process.stdout else "")
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError("server did not become ready in 30 s")
        yield base, version
    finally:
        process.terminate()
        process.wait(timeout=10)


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
