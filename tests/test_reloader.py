"""A running server follows the champion: swaps in a new one, refuses a bad one and keeps
serving, and says why it is not ready when there is no usable model at start-up."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from classifier import lifecycle, registry
from classifier.api.app import create_app
from classifier.catalogue import DEPARTMENT_IDS
from classifier.model import TriageModel
from classifier.registry import ModelHolder
from classifier.reloader import ChampionReloader
from classifier.settings import Settings
from tests.serving import Server, running_server

A, B = "2026-04-01T00-00-00Z-aaaaaa", "2026-04-02T00-00-00Z-bbbbbb"


def flip(models_dir: Path, version: str) -> None:
    artefact = models_dir / version / registry.ARTEFACT
    data = bytearray(artefact.read_bytes())
    data[len(data) // 3] ^= 0x5A
    artefact.write_bytes(bytes(data))


def truncate(models_dir: Path, version: str) -> None:
    artefact = models_dir / version / registry.ARTEFACT
    artefact.write_bytes(artefact.read_bytes()[: artefact.stat().st_size // 2])


def relabel(models_dir: Path, version: str) -> None:
    path = models_dir / version / registry.METADATA
    metadata = json.loads(path.read_text())
    metadata["labels"] = [*metadata["labels"][:-1], "marketing"]
    path.write_text(json.dumps(metadata))


def old_libraries(models_dir: Path, version: str) -> None:
    path = models_dir / version / registry.METADATA
    metadata = json.loads(path.read_text())
    metadata["libraries"]["scikit-learn"] = "0.24.2"
    path.write_text(json.dumps(metadata))


DAMAGE: dict[str, tuple[Callable[[Path, str], None], str]] = {
    "bytes flipped": (flip, "altered or truncated"),
    "truncated": (truncate, "altered or truncated"),
    "wrong labels": (relabel, "do not match the catalogue"),
    "other library versions": (old_libraries, "scikit-learn 0.24.2 .*retrain it"),
}


@pytest.fixture
def two_versions(tmp_path: Path, tiny_model: TriageModel) -> Path:
    models_dir = tmp_path / "models"
    for version in (A, B):
        registry.save(models_dir, tiny_model, {"labels": list(DEPARTMENT_IDS)}, "", version)
    lifecycle.record_first(models_dir, A)
    return models_dir


def test_a_new_champion_is_swapped_in_and_requests_in_flight_keep_theirs(
    two_versions: Path,
) -> None:
    holder = ModelHolder()
    reloader = ChampionReloader(two_versions, DEPARTMENT_IDS, holder)
    assert reloader.check() == A
    in_flight = holder.current  # what a request that started now holds
    assert reloader.check() is None  # unchanged: nothing loaded again
    registry.set_champion(two_versions, B)
    assert reloader.check() == B
    assert holder.current is not None and holder.current.version == B
    assert in_flight is not None and in_flight.version == A
    assert in_flight.model.predict_proba(["refund please"]).shape == (1, len(DEPARTMENT_IDS) + 1)


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_champion_is_refused_with_a_logged_reason_and_the_old_one_serves(
    two_versions: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    spoil, reason = DAMAGE[damage]
    holder = ModelHolder()
    reloader = ChampionReloader(two_versions, DEPARTMENT_IDS, holder)
    reloader.check()
    spoil(two_versions, B)
    registry.set_champion(two_versions, B)
    with caplog.at_level(logging.ERROR, logger="classifier.reloader"):
        assert reloader.check() is None
    assert holder.current is not None and holder.current.version == A
    assert reloader.refused is not None and reloader.refused.version == B
    assert any(
        f"refused model {B}" in r.getMessage() and f"still serving {A}" in r.getMessage()
        for r in caplog.records
    )
    assert reloader.problem is not None
    assert re.search(reason, reloader.problem)
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="classifier.reloader"):
        reloader.check()  # the same files: not tried (nor logged) again every few seconds
        assert not caplog.records
        reloader.check(force=True)  # SIGHUP: tried again
        assert caplog.records


def test_a_repaired_version_is_tried_again_when_its_files_change(two_versions: Path) -> None:
    holder = ModelHolder()
    reloader = ChampionReloader(two_versions, DEPARTMENT_IDS, holder)
    reloader.check()
    good = (two_versions / B / registry.ARTEFACT).read_bytes()
    flip(two_versions, B)
    registry.set_champion(two_versions, B)
    assert reloader.check() is None
    (two_versions / B / registry.ARTEFACT).write_bytes(good)
    os.utime(two_versions / B / registry.ARTEFACT, ns=(1, 1))  # a different mtime for sure
    assert reloader.check() == B and reloader.refused is None


def following(settings: Settings, models_dir: Path) -> Settings:
    return settings.model_copy(update={"models_dir": models_dir, "reload_interval": 0.05})


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_at_start_up_a_damaged_champion_means_not_ready_saying_why_and_how_to_fix(
    two_versions: Path, settings: Settings, damage: str
) -> None:
    spoil, reason = DAMAGE[damage]
    spoil(two_versions, A)
    with TestClient(create_app(following(settings, two_versions))) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        detail = response.json()["detail"]
        assert detail.startswith(f"not ready: model {A}")
        assert re.search(reason, detail) and re.search("[Rr]etrain", detail)
        triage = client.post("/v1/triage", json={"text": "my parcel is lost"})
        assert triage.status_code == 503 and "no model is ready" in triage.json()["detail"]
        # the analyst points the champion at a good version: ready without a restart
        registry.set_champion(two_versions, B)
        assert wait_for(lambda: client.get("/readyz").status_code == 200)
        assert client.get("/readyz").json()["model_version"] == B


def test_a_running_app_follows_promotions_and_names_the_version_in_every_answer(
    two_versions: Path, settings: Settings
) -> None:
    with TestClient(create_app(following(settings, two_versions))) as client:
        first = client.post("/v1/triage", json={"text": "charged twice, refund me"})
        assert first.json()["model_version"] == A == first.headers["X-Model-Version"]
        registry.set_champion(two_versions, B)
        assert wait_for(lambda: client.get("/v1/model").json()["version"] == B)
        second = client.post("/v1/triage", json={"text": "charged twice, refund me"})
        assert second.json()["model_version"] == B == second.headers["X-Model-Version"]
        # a bad champion is refused: still B, still ready, and /v1/model says what was refused
        shutil.copytree(two_versions / A, two_versions / "2026-04-03T00-00-00Z-cccccc")
        truncate(two_versions, "2026-04-03T00-00-00Z-cccccc")
        registry.set_champion(two_versions, "2026-04-03T00-00-00Z-cccccc")
        assert wait_for(lambda: client.get("/v1/model").json()["refused"] is not None)
        model = client.get("/v1/model").json()
        assert model["version"] == B
        assert model["refused"]["version"] == "2026-04-03T00-00-00Z-cccccc"
        assert "truncated" in model["refused"]["reason"]
        assert client.get("/readyz").status_code == 200


@pytest.fixture
def hup_server(two_versions: Path, tmp_path: Path) -> Iterator[Server]:
    """The real server, checking the champion only on SIGHUP."""
    with running_server(tmp_path, two_versions, reload_interval=0) as server:
        yield server


@pytest.mark.slow
def test_sighup_makes_the_real_server_load_the_new_champion_now(
    hup_server: Server, two_versions: Path
) -> None:
    base, process = hup_server.base, hup_server.process
    registry.set_champion(two_versions, B)
    time.sleep(0.5)  # no polling: still A until told
    assert httpx.get(f"{base}/v1/model").json()["version"] == A
    process.send_signal(signal.SIGHUP)
    assert wait_for(lambda: httpx.get(f"{base}/v1/model").json()["version"] == B)
    assert process.poll() is None  # SIGHUP did not end the server
