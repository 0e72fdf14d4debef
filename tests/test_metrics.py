"""GET /metrics: requests by route template and status, and what the triages decided,
parsed back with prometheus_client's own parser."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from classifier import registry
from classifier.api.app import create_app
from classifier.api.deps import get_service
from classifier.api.metrics import UNMATCHED, Metrics
from classifier.catalogue import Catalogue
from classifier.cli.serving import metrics_directory, sweep
from classifier.settings import PROJECT_ROOT, Settings
from tests.serving import cli, environment, free_port
from tests.test_api import COMPLAINT

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def requests(samples: Samples, method: str, route: str, status: int) -> float | None:
    labels = {"method": method, "route": route, "status": str(status)}
    return value(samples, "complaint_triage_http_requests_total", **labels)


def test_metrics_count_triages_decisions_and_requests_by_route_template(
    client: TestClient, catalogue: Catalogue
) -> None:
    bodies = [
        client.post("/v1/triage", json={"text": COMPLAINT, "customer": {"tier": "vip"}}).json(),
        client.post("/v1/triage", json={"text": "refund"}).json(),
        client.post("/v1/triage", json={"text": COMPLAINT}).json(),
    ]
    assert [b["escalation"]["escalate"] for b in bodies] == [True, False, False]
    assert "too short to judge (1 word)" in bodies[1]["review_reasons"]
    batch = client.post("/v1/triage/batch", json={"items": [{"text": COMPLAINT}, {"text": ""}]})
    bodies.append(batch.json()["results"][0]["result"])
    assert client.get("/no/such/page").status_code == 404
    assert client.get("/v1/triages/0f1e2d3c").status_code == 404
    assert client.post("/v1/triage", json={"text": "  "}).status_code == 422

    samples = scrape(client)
    assert requests(samples, "POST", "/v1/triage", 200) == 3
    assert requests(samples, "POST", "/v1/triage", 422) == 1
    assert requests(samples, "POST", "/v1/triage/batch", 200) == 1
    assert requests(samples, "GET", UNMATCHED, 404) == 1
    assert requests(samples, "GET", "/v1/triages/{triage_id}", 404) == 1
    routes = {dict(labels)["route"] for name, labels in samples if "http" in name}
    assert not {"/no/such/page", "/v1/triages/0f1e2d3c"} & routes  # templates, not raw paths
    latency = "complaint_triage_http_request_duration_seconds"
    labels = {"method": "POST", "route": "/v1/triage", "status": "200"}
    assert value(samples, f"{latency}_count", **labels) == 3
    assert value(samples, f"{latency}_bucket", **labels, le="+Inf") == 3
    assert 0 < (value(samples, f"{latency}_sum", **labels) or 0) < 30

    assert value(samples, "complaint_triage_triages_total") == 4
    assert value(samples, "complaint_triage_escalations_total") == 1
    flagged = sum(b["needs_review"] for b in bodies)
    assert value(samples, "complaint_triage_needs_review_total") == flagged >= 1
    routed = Counter(d["id"] for b in bodies for d in b["departments"])
    assert routed["finance"] >= 3
    for department in catalogue.ids:  # every department shows, at 0 when never predicted
        assert (
            value(samples, "complaint_triage_predictions_total", department=department)
            == (routed[department])
        )
    assert value(samples, "complaint_triage_model_info", version="test-tiny") == 1


def test_requests_answered_before_routing_still_get_their_route(client: TestClient) -> None:
    too_big = client.post(
        "/v1/triage",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": "70000"},
    )
    assert too_big.status_code == 413
    assert client.get("/static/htmx.min.js").status_code == 200
    samples = scrape(client)
    assert requests(samples, "POST", "/v1/triage", 413) == 1
    assert requests(samples, "GET", "/static/{path}", 200) == 1


def test_an_unexpected_error_is_counted_as_500(
    settings: Settings, tiny_loaded: registry.LoadedModel
) -> None:
    app = create_app(settings, model=tiny_loaded)

    def broken() -> Any:
        raise RuntimeError("boom")

    app.dependency_overrides[get_service] = broken
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/v1/triage", json={"text": COMPLAINT}).status_code == 500
        assert requests(scrape(client), "POST", "/v1/triage", 500) == 1


def test_metrics_need_no_key_when_keys_are_required(
    settings: Settings, tiny_loaded: registry.LoadedModel
) -> None:
    strict = settings.model_copy(update={"require_keys": True})
    with TestClient(create_app(strict, model=tiny_loaded)) as client:
        assert client.post("/v1/triage", json={"text": COMPLAINT}).status_code == 401
        samples = scrape(client)
        assert requests(samples, "POST", "/v1/triage", 401) == 1
        assert value(samples, "complaint_triage_triages_total") == 0


def test_each_app_counts_its_own_requests(client: TestClient) -> None:
    # the `client` fixture builds a new app per test: nothing carried over from others
    assert value(scrape(client), "complaint_triage_triages_total") == 0


def test_a_multiprocess_directory_set_too_late_falls_back_to_this_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # This test process imported prometheus_client without the variable: its values live
    # in memory, so the files would stay empty; the metrics must still count.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with caplog.at_level(logging.WARNING):
        metrics = Metrics(lambda: "v1")
    assert "set after prometheus_client was imported" in caplog.text
    metrics.observe_request("GET", "/livez", 200, 0.001)
    text = metrics.exposition().decode()
    assert 'complaint_triage_http_requests_total{method="GET",route="/livez",status="200"} 1.0' in (
        text
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_two_workers_write_to_one_directory_and_metrics_sum_them(
    tmp_path: Path, models_dir_with_champion: tuple[Path, str]
) -> None:
    models_dir, version = models_dir_with_champion
    temporary = tmp_path / "tmp"  # where `serve` makes its private metrics directory
    temporary.mkdir()
    env = {**environment(tmp_path, models_dir), "TMPDIR": str(temporary),
           "CT_RATE_LIMIT": "100000/second"}  # fmt: skip
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (tmp_path / "server.log").open("w") as log:
        server = subprocess.Popen(
            [*cli(), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        # both workers up, or the first one takes every request
        while _log(tmp_path).count("Application startup complete") < 2 or not _answers(
            base + "/readyz"
        ):
            assert server.poll() is None and time.monotonic() < deadline, _log(tmp_path)
            time.sleep(0.2)
        [directory] = list(temporary.iterdir())
        assert directory.name.startswith("complaint-triage-metrics-")
        assert directory.stat().st_mode & 0o077 == 0  # private to its owner

        def triage(number: int) -> int:
            body = {"text": f"{COMPLAINT} Order {number}."}
            # a new connection each time, so either worker may accept it
            with httpx.Client(base_url=base, timeout=30) as http:
                return http.post("/v1/triage", json=body).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            assert list(pool.map(triage, range(40))) == [200] * 40
        per_worker = {
            path.name: _total(MultiProcessCollector.merge([str(path)]))
            for path in directory.glob("counter_*.db")
        }
        assert len(per_worker) == 2 and all(per_worker.values()), per_worker
        assert sum(per_worker.values()) == 40
        for _ in range(6):  # whichever worker answers, it reads both workers' files
            with httpx.Client(base_url=base, timeout=30) as http:
                samples = {
                    (s.name, frozenset(s.labels.items())): s.value
                    for family in text_string_to_metric_families(http.get("/metrics").text)
                    for s in family.samples
                }
            assert value(samples, "complaint_triage_triages_total") == 40
            assert requests(samples, "POST", "/v1/triage", 200) == 40
            assert value(samples, "complaint_triage_model_info", version=version) == 1
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert list(temporary.iterdir()) == [], "serve removes its metrics directory"


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _log(directory: Path) -> str:
    return (directory / "server.log").read_text(encoding="utf-8", errors="replace")


def _total(families: Any) -> float:
    return sum(
        s.value
        for family in families
        for s in family.samples
        if s.name == "complaint_triage_triages_total"
    )


@pytest.mark.slow
def test_the_overhead_benchmark_prints_microseconds_for_both_kinds_of_storage() -> None:
    script = PROJECT_ROOT / "bench" / "metrics_overhead.py"
    result = subprocess.run(
        [sys.executable, str(script), "--requests", "5000"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["values", "in", "bare", "µs", "metered", "µs", "added", "µs"]
    assert [row.split()[0] for row in rows] == ["memory", "files"]
    for row in rows:
        bare, metered, added = map(float, row.split()[1:])
        assert 0 < bare < metered and added == pytest.approx(metered - bare, abs=0.11)


def test_serve_gives_several_workers_a_private_directory_and_one_worker_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with metrics_directory(1) as none:
        assert none is None and "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    with metrics_directory(2) as directory:
        assert directory is not None and os.environ["PROMETHEUS_MULTIPROC_DIR"] == directory
        assert Path(directory).parent == tmp_path
        assert Path(directory).stat().st_mode & 0o077 == 0
    assert not Path(directory).exists() and "PROMETHEUS_MULTIPROC_DIR" not in os.environ


def test_a_start_removes_directories_left_by_killed_servers(tmp_path: Path) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    dead = tmp_path / f"complaint-triage-metrics-{finished.stdout.strip()}-abc"
    live = tmp_path / f"complaint-triage-metrics-{os.getpid()}-def"
    other = tmp_path / "complaint-triage-metrics-by-hand"
    for path in (dead, live, other):
        path.mkdir()
        (path / "counter_1.db").write_bytes(b"\0" * 8)
    assert sweep(tmp_path) == [dead]
    assert not dead.exists() and live.exists() and other.exists()
