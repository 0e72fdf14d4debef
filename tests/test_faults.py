"""Faults against real processes: kill -9 while training or while the champion changes,
requests while the champion flips, corrupted artefacts at start-up and at reload.

Every process here is a real subprocess (the `complaint-triage` entry point, or a small
Python script), killed with SIGKILL or stopped with SIGTERM; the models directory is checked
from the outside after each kill, as an operator restarting the service would find it.
"""

from __future__ import annotations

import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from classifier import lifecycle, registry
from classifier.catalogue import DEPARTMENT_IDS
from classifier.data import Record
from classifier.evaluation import label_matrix
from classifier.model import TriageModel
from classifier.settings import PROJECT_ROOT
from tests.serving import RELOAD_INTERVAL, Server, cli, environment, running_server

pytestmark = pytest.mark.slow

VERSION_FILES = {registry.ARTEFACT, registry.METADATA, registry.CARD}
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


def check_models_dir(models_dir: Path, verified: set[str], when: str) -> str:
    """Assert what any crash must leave: a one-line champion pointer naming a complete version
    that loads and verifies, every version folder complete and loadable, the history parsing.
    Versions already in `verified` (immutable once complete) are not loaded again. Returns
    the champion."""
    pointer = models_dir / registry.CHAMPION
    assert pointer.is_file(), f"{when}: {pointer} is missing"
    raw = pointer.read_text(encoding="utf-8")
    assert raw.endswith("\n") and raw.count("\n") == 1, f"{when}: torn pointer {raw!r}"
    champion = raw.strip()
    assert champion and not champion.startswith("."), f"{when}: champion is {champion!r}"
    assert (models_dir / champion).is_dir(), f"{when}: champion {champion} has no folder"
    try:
        registry.load(models_dir, champion, DEPARTMENT_IDS)
    except registry.ArtefactError as exc:
        pytest.fail(f"{when}: the champion {champion} does not load: {exc}")
    verified.add(champion)
    for entry in sorted(models_dir.iterdir()):
        if entry.name.startswith("."):  # staging folders, temp pointers, the lock
            continue
        if entry.is_file():
            assert entry.name in {registry.CHAMPION, lifecycle.HISTORY}, f"{when}: {entry}"
            continue
        files = {p.name for p in entry.iterdir()}
        assert files == VERSION_FILES, f"{when}: partial version {entry.name}: {sorted(files)}"
        if entry.name not in verified:
            try:
                registry.load(models_dir, entry.name, DEPARTMENT_IDS)
            except registry.ArtefactError as exc:
                pytest.fail(f"{when}: version {entry.name} does not load: {exc}")
            verified.add(entry.name)
    history = lifecycle.history(models_dir)  # parses; a torn last line is skipped
    assert all(e.to_version and not e.to_version.startswith(".") for e in history), when
    return champion


def version_dirs(models_dir: Path) -> set[str]:
    """The folders named like versions (staging folders start with a dot)."""
    return {p.name for p in models_dir.iterdir() if p.is_dir() and not p.name.startswith(".")}


def staging_dirs(models_dir: Path) -> set[str]:
    return {p.name for p in models_dir.glob(".staging-*")}


def read_line(stream: IO[str], timeout: float) -> str:
    """One line from a child's stdout, or '' when none comes within `timeout`."""
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else ""


# --- 1. kill -9 while training -----------------------------------------------------------


def test_kill_9_during_training_never_leaves_a_partial_version_or_champion(
    tmp_path: Path,
) -> None:
    # 80 training records: a run takes ~2 s, mostly starting Python (150 records took ~10 s).
    data, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    for source, target, lines in (
        (PROJECT_ROOT / "training_data" / "complaints.jsonl", data, 80),
        (PROJECT_ROOT / "training_data" / "test.jsonl", test, 60),
    ):
        with source.open(encoding="utf-8") as handle:
            target.write_text("".join(handle.readline() for _ in range(lines)), encoding="utf-8")
    models_dir = tmp_path / "models"
    env = environment(tmp_path, models_dir)
    command = [*cli(), "train", "--data", str(data), "--test", str(test), "--seed", "7"]

    started = time.monotonic()
    first = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    duration = time.monotonic() - started
    assert first.returncode == 0, first.stderr
    assert "now champion" in first.stdout
    verified: set[str] = set()
    original = check_models_dir(models_dir, verified, "after the first full run")

    rng = random.Random(SEED)
    phases: Counter[str] = Counter()
    for kill in range(5):
        delay = rng.uniform(0.05, 1.1 * duration)
        versions_before = version_dirs(models_dir)
        staging_before = staging_dirs(models_dir)
        log = tmp_path / f"train-{kill}.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                command, env=env, cwd=tmp_path, stdout=output, stderr=subprocess.STDOUT
            )
            try:
                process.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
        new_versions = version_dirs(models_dir) - versions_before
        new_staging = staging_dirs(models_dir) - staging_before
        if process.returncode == 0:
            phase = "finished before the kill"
            assert len(new_versions) == 1, log.read_text()
        else:
            assert process.returncode == -signal.SIGKILL, log.read_text()
            if new_versions:
                phase = "killed after the version folder was renamed into place"
            elif new_staging:
                phase = "killed while writing the staging folder"
            else:
                phase = "killed before saving (start-up or fitting)"
        phases[phase] += 1
        when = f"train kill {kill} after {delay:.2f} s ({phase})"
        champion = check_models_dir(models_dir, verified, when)
        # A usable champion exists, so train never changes it, killed or not.
        assert champion == original, when
        assert f".staging-{champion}" not in staging_dirs(models_dir), when

    print(f"\ntraining run {duration:.2f} s; kills by phase: {dict(phases)}")


# --- 1b. kill -9 while the champion pointer switches ---------------------------------------

CHURN = """
import sys
from pathlib import Path

from classifier import lifecycle, registry
from classifier.catalogue import DEPARTMENT_IDS

models_dir, source = Path(sys.argv[1]), sys.argv[2]
metrics = {
    "macro_f1": 0.5,
    "escalation": {"recall": 0.9},
    "per_label": {label: {"f1": 0.5} for label in DEPARTMENT_IDS},
}
model = registry.load(models_dir, source, DEPARTMENT_IDS).model  # immutable: safe to read
sys.stdin.readline()  # "go": the clock starts once imports and loading are done
print("started", flush=True)
step = 0
while True:
    version = registry.new_version()
    registry.save(models_dir, model, {"labels": list(DEPARTMENT_IDS)}, "# churn\\n", version)
    comparison = lifecycle.compare(version, metrics, registry.champion(models_dir), metrics)
    lifecycle.promote(models_dir, comparison, reason="fault test")
    if step % 3 == 2:
        lifecycle.rollback(models_dir, DEPARTMENT_IDS, reason="fault test")
    step += 1
"""


def test_kill_9_while_switching_the_champion_never_tears_the_pointer(
    tmp_path: Path, tiny_model: TriageModel
) -> None:
    models_dir = tmp_path / "models"
    source = "2026-01-01T00-00-00Z-000000"
    save(models_dir, tiny_model, source)
    lifecycle.record_first(models_dir, source)
    script = tmp_path / "churn.py"
    script.write_text(CHURN, encoding="utf-8")
    env = environment(tmp_path, models_dir)
    kills = 20

    def spawn(number: int) -> tuple[subprocess.Popen[str], Path]:
        log = tmp_path / f"churn-{number}.log"
        with log.open("w") as errors:
            child = subprocess.Popen(
                [sys.executable, str(script), str(models_dir), source],
                env=env,
                cwd=tmp_path,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
        return child, log

    rng = random.Random(SEED)
    verified: set[str] = set()
    previous = check_models_dir(models_dir, verified, "before the first kill")
    phases: Counter[str] = Counter()
    created = 0
    spawned = [spawn(0)]
    try:
        for kill in range(kills):
            child, log = spawned[kill]
            if kill + 1 < kills:  # the next child starts Python while this one runs
                spawned.append(spawn(kill + 1))
            versions_before = version_dirs(models_dir)
            staging_before = staging_dirs(models_dir)
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write("go\n")
            child.stdin.flush()
            line = read_line(child.stdout, 60)
            assert line == "started\n", f"child {kill} did not start: {log.read_text()}"
            delay = rng.uniform(0.05, 1.0)
            try:
                child.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                os.kill(child.pid, signal.SIGKILL)
                child.wait()
            else:
                pytest.fail(f"child {kill} stopped by itself: {log.read_text()}")
            assert child.returncode == -signal.SIGKILL

            when = f"pointer kill {kill} after {delay:.2f} s"
            new_versions = version_dirs(models_dir) - versions_before
            new_staging = staging_dirs(models_dir) - staging_before
            created += len(new_versions)
            champion = check_models_dir(models_dir, verified, when)
            assert f".staging-{champion}" not in staging_dirs(models_dir), when
            history = lifecycle.history(models_dir)
            stack = lifecycle.champions(history)
            recorded = {e.to_version for e in history}
            if champion != stack[-1]:
                # The pointer is switched before the history line is written, so it may be
                # one change ahead of the history: a promotion never recorded, or a rollback
                # to the version below the top. Never anything else.
                assert champion not in recorded or champion == stack[-2], (when, stack[-3:])
            if new_staging:
                phase = "while saving a version (staging folder left)"
            elif champion != stack[-1] and champion != previous:
                phase = "between the pointer switch and its history line"
            elif new_versions - recorded:
                phase = "between saving a version and promoting it"
            elif champion == previous:
                phase = "before its first change completed"
            else:
                phase = "after a complete change (history ends at the champion)"
            phases[phase] += 1
            previous = champion

            # Keep the folder small: drop verified versions that no rollback can reach.
            keep = {source, champion, *stack[-3:]}
            for version in version_dirs(models_dir) - keep:
                shutil.rmtree(models_dir / version)
    finally:
        for process, _ in spawned:
            if process.poll() is None:
                process.kill()
                process.wait()

    leftovers = Counter(
        ".staging-*" if p.name.startswith(".staging-") else ".champion.*"
        for p in models_dir.glob(".*")
        if p.name != ".lock"
    )
    # Observed, not asserted: registry.versions() also lists a staging folder that already
    # holds metadata.json (killed just before the rename), though it is no version.
    listed = [v for v in registry.versions(models_dir) if v.startswith(".")]
    print(
        f"\n{kills} kills, {created} versions saved in between; kills by phase: {dict(phases)}; "
        f"left behind (allowed): {dict(leftovers)}; staging folders registry.versions() lists: "
        f"{len(listed)}"
    )
    assert created > 0  # the children did switch the champion between kills


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
