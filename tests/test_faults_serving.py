"""Faults against a real server: requests while the champion flips, corrupted artefacts at
start-up and at reload.
"""

from __future__ import annotations

import json
import random
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from classifier import lifecycle, registry
from classifier.catalogue import DEPARTMENT_IDS
from classifier.data import Record
from classifier.evaluation import label_matrix
from classifier.model import TriageModel
from tests.serving import RELOAD_INTERVAL, Server, running_server

pytestmark = pytest.mark.slow

# Identical figures on both sides: the promotion gates pass, so promote needs no --force.
METRICS: dict[str, Any] = {
    "macro_f1": 0.5,
    "escalation": {"recall": 0.9},
    "per_label": {label: {"f1": 0.5} for label in DEPARTMENT_IDS},
}
SEED = 20261124
# One request: (status or -1, text or error, body version, header version, probabilities match)
Outcome = tuple[int, str, str | None, str | None, bool]


def save(models_dir: Path, model: TriageModel, version: str) -> None:
    metadata = {"labels": list(DEPARTMENT_IDS), "created": "2026-01-01T00:00:00+00:00"}
    registry.save(models_dir, model, metadata, f"# {version}\n", version)


# --- 2. requests while the champion flips -------------------------------------------------


def serving(server: Server) -> dict[str, Any]:
    response = httpx.get(server.base + "/v1/model", timeout=5)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for_version(server: Server, version: str, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while (current := serving(server)["version"]) != version:
        assert time.monotonic() < deadline, (
            f"still serving {current}, not {version}, after {seconds} s:\n{server.output()}"
        )
        time.sleep(0.05)


def test_requests_while_promoting_and_rolling_back_all_succeed(
    tmp_path: Path, tiny_model: TriageModel, train_records: list[Record]
) -> None:
    # B is fitted on other records, so its probabilities differ from A's: each response can
    # be checked against the model it names.
    b_records = train_records[::6][:150]
    model_b = TriageModel(cv=3, random_state=11).fit(
        [r.text for r in b_records], label_matrix(b_records, DEPARTMENT_IDS)
    )
    a, b = "2026-01-01T00-00-00Z-aaaaaa", "2026-01-02T00-00-00Z-bbbbbb"
    models_dir = tmp_path / "models"
    save(models_dir, tiny_model, a)
    save(models_dir, model_b, b)
    lifecycle.record_first(models_dir, a)
    texts = [r.text for r in train_records[1::17][:60]]
    expected: dict[str, dict[str, list[float]]] = {}
    for version, model in ((a, tiny_model), (b, model_b)):
        rows = model.predict_proba(texts)
        expected[version] = {t: [float(p) for p in row] for t, row in zip(texts, rows, strict=True)}
    differing = sum(
        max(abs(x - y) for x, y in zip(expected[a][t], expected[b][t], strict=True)) > 1e-3
        for t in texts
    )
    assert differing == len(texts)

    with running_server(tmp_path, models_dir) as server:
        stop = threading.Event()
        changes: Counter[str] = Counter()
        flip_errors: list[BaseException] = []

        def flip() -> None:
            pace = random.Random(SEED)
            try:
                while not stop.is_set():
                    comparison = lifecycle.compare(b, METRICS, a, METRICS)
                    lifecycle.promote(models_dir, comparison, reason="fault test")
                    changes["promote"] += 1
                    time.sleep(pace.uniform(0.03, 0.08))
                    lifecycle.rollback(models_dir, DEPARTMENT_IDS, reason="fault test")
                    changes["rollback"] += 1
                    time.sleep(pace.uniform(0.03, 0.08))
            except BaseException as exc:  # reported by the test thread
                flip_errors.append(exc)

        def send(worker: int) -> list[Outcome]:
            """The outcome of every eighth request, from the `worker`-th."""
            results: list[Outcome] = []
            with httpx.Client(base_url=server.base, timeout=30) as client:
                for number in range(worker, 1000, 8):
                    text = texts[number % len(texts)]
                    try:
                        response = client.post("/v1/triage", json={"text": text})
                    except httpx.HTTPError as exc:
                        results.append((-1, f"{type(exc).__name__}: {exc}", None, None, False))
                        continue
                    if response.status_code != 200:
                        results.append((response.status_code, response.text, None, None, False))
                        continue
                    body = response.json()
                    version = body["model_version"]
                    got = list(body["probabilities"].values())
                    want = expected.get(version, {}).get(text, [])
                    match = len(got) == len(want) and all(
                        abs(x - y) <= 6e-5 for x, y in zip(got, want, strict=True)
                    )
                    header = response.headers.get("x-model-version")
                    results.append((200, text, version, header, match))
            return results

        flipper = threading.Thread(target=flip, daemon=True)
        flipper.start()
        started = time.monotonic()
        try:
            with ThreadPoolExecutor(max_workers=8) as pool:
                results = [r for batch in pool.map(send, range(8)) for r in batch]
        finally:
            stop.set()
            flipper.join(timeout=30)
        elapsed = time.monotonic() - started

        assert not flip_errors, flip_errors
        failures = [r for r in results if r[0] != 200]
        by_version = Counter(r[2] for r in results if r[0] == 200)
        print(
            f"\n{len(results)} requests in {elapsed:.1f} s; failures: {len(failures)}; "
            f"by version: {dict(by_version)}; champion changes: {dict(changes)}"
        )
        assert len(results) == 1000
        assert failures == [], failures[:5]
        assert set(by_version) <= {a, b}, by_version
        assert all(r[3] == r[2] for r in results), "X-Model-Version differs from the body"
        assert all(r[4] for r in results), "probabilities not those of the model named"
        assert by_version[a] > 0 and by_version[b] > 0, by_version  # the swap did happen
        assert changes["promote"] > 0 and changes["rollback"] > 0
        final = serving(server)
        assert final["version"] in {a, b}
        assert final["refused"] is None
        output = server.output()
        assert "refused model" not in output and "Traceback" not in output, output


# --- 3. corrupted artefacts ---------------------------------------------------------------


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_corrupted_champion_is_refused_at_start_up(
    tmp_path: Path, tiny_model: TriageModel
) -> None:
    models_dir = tmp_path / "models"
    bad, good = "2026-01-01T00-00-00Z-badbad", "2026-01-02T00-00-00Z-c00c00"
    save(models_dir, tiny_model, bad)
    flip_a_byte(models_dir / bad / registry.ARTEFACT)
    registry.set_champion(models_dir, bad)

    with running_server(tmp_path, models_dir, ready=False) as server:
        ready = httpx.get(server.base + "/readyz", timeout=5)
        assert ready.status_code == 503
        assert ready.headers["content-type"] == "application/problem+json"
        detail = ready.json()["detail"]
        assert bad in detail and "sha256" in detail and "altered" in detail, detail
        assert "complaint-triage train" in detail, detail
        assert "point the champion at another version" in detail, detail
        triage = httpx.post(server.base + "/v1/triage", json={"text": "parcel lost"}, timeout=5)
        assert triage.status_code == 503
        assert triage.headers["content-type"] == "application/problem+json"
        assert f"refused model {bad}" in server.output()

        # The fix the detail suggests: point the champion at a good version.
        save(models_dir, tiny_model, good)
        registry.set_champion(models_dir, good)
        deadline = time.monotonic() + 5
        while (ready := httpx.get(server.base + "/readyz", timeout=5)).status_code != 200:
            assert time.monotonic() < deadline, ready.text
            time.sleep(0.05)
        assert ready.json() == {"status": "ready", "model_version": good}


SERVING = "2026-01-01T00-00-00Z-a0a0a0"


@pytest.fixture(scope="module")
def reload_server(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: TriageModel
) -> Iterator[Server]:
    """One server for the reload cases, started serving SERVING."""
    directory = tmp_path_factory.mktemp("reload")
    models_dir = directory / "models"
    save(models_dir, tiny_model, SERVING)
    lifecycle.record_first(models_dir, SERVING)
    with running_server(directory, models_dir) as server:
        yield server


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("flipped", "altered or truncated"),
        ("truncated", "altered or truncated"),
        ("labels", "do not match the catalogue"),
    ],
)
def test_a_corrupted_champion_is_refused_at_reload(
    reload_server: Server, tiny_model: TriageModel, damage: str, reason: str
) -> None:
    server, models_dir = reload_server, reload_server.models_dir
    registry.set_champion(models_dir, SERVING)
    wait_for_version(server, SERVING)
    broken, fixed = f"broken-{damage}", f"fixed-{damage}"
    shutil.copytree(models_dir / SERVING, models_dir / broken)
    artefact = models_dir / broken / registry.ARTEFACT
    metadata = models_dir / broken / registry.METADATA
    if damage == "flipped":
        flip_a_byte(artefact)
    elif damage == "truncated":
        artefact.write_bytes(artefact.read_bytes()[: artefact.stat().st_size // 2])
    else:
        content = json.loads(metadata.read_text(encoding="utf-8"))
        content["labels"] = list(reversed(DEPARTMENT_IDS))
        metadata.write_text(json.dumps(content), encoding="utf-8")
    registry.set_champion(models_dir, broken)

    deadline = time.monotonic() + 5
    while (info := serving(server))["refused"] is None:
        assert time.monotonic() < deadline, f"{broken} not refused within 5 s:\n{server.output()}"
        time.sleep(0.05)
    # Over the next 4 reload intervals the refused champion stays refused and SERVING serves.
    until = time.monotonic() + 4 * RELOAD_INTERVAL
    while True:
        ready = httpx.get(server.base + "/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        assert ready.json()["model_version"] == SERVING
        triage = httpx.post(server.base + "/v1/triage", json={"text": "parcel lost"}, timeout=5)
        assert triage.status_code == 200, triage.text
        assert triage.json()["model_version"] == SERVING
        assert triage.headers["x-model-version"] == SERVING
        info = serving(server)
        assert info["version"] == SERVING
        assert info["refused"]["version"] == broken
        assert reason in info["refused"]["reason"], info["refused"]
        if time.monotonic() > until:
            break
        time.sleep(0.05)
    # Refused once and logged once: its files did not change, so it is not retried.
    assert server.output().count(f"refused model {broken}") == 1, server.output()

    save(models_dir, tiny_model, fixed)
    registry.set_champion(models_dir, fixed)
    wait_for_version(server, fixed, seconds=5)
    assert serving(server)["refused"] is None
    triage = httpx.post(server.base + "/v1/triage", json={"text": "parcel lost"}, timeout=5)
    assert triage.json()["model_version"] == fixed
