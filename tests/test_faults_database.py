"""The database under faults, against `complaint-triage serve --workers 2`: SQLite locked by
another writer, and the whole server killed with SIGKILL during a burst of feedback."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from classifier.catalogue import DEPARTMENT_IDS
from tests.serving import Server, running_server
from tests.test_faults_workers import STARTED, WORKERS, complaints

pytestmark = pytest.mark.slow

BUSY_TIMEOUT = 2.0  # the default of CT_DATABASE_BUSY_TIMEOUT
SEED = 20261124


def triage_ids(server: Server, count: int) -> list[str]:
    texts = complaints()
    with httpx.Client(base_url=server.base, timeout=30) as client:
        ids = []
        for i in range(count):
            response = client.post("/v1/triage", json={"text": texts[i % len(texts)]})
            assert response.status_code == 200 and response.json()["stored"], response.text
            ids.append(response.json()["triage_id"])
        return ids


def correction(triage_id: str, key: str) -> dict[str, Any]:
    """A feedback body that can be told from every other one: its key is its comment."""
    number = sum(map(ord, key))
    return {
        "triage_id": triage_id,
        "departments": sorted({DEPARTMENT_IDS[number % 4], DEPARTMENT_IDS[4 + number % 4]}),
        "escalate": number % 2 == 1,
        "author": f"agent-{number % 7}",
        "comment": key,
    }


def test_locked_sqlite_triage_still_answers_and_feedback_is_503_then_works(
    tmp_path: Path, models_dir_with_champion: tuple[Path, str]
) -> None:
    models_dir, _ = models_dir_with_champion
    with running_server(tmp_path, models_dir, workers=WORKERS) as server:
        server.wait_for_output(STARTED, WORKERS)
        (known,) = triage_ids(server, 1)
        texts = complaints()

        def request(number: int) -> tuple[str, httpx.Response, float]:
            with httpx.Client(base_url=server.base, timeout=30) as client:
                start = time.monotonic()
                if number % 2:
                    body = correction(known, f"locked-{number}")
                    headers = {"Idempotency-Key": f"locked-{number}"}
                    response = client.post("/v1/feedback", json=body, headers=headers)
                    return "feedback", response, time.monotonic() - start
                response = client.post("/v1/triage", json={"text": texts[number]})
                return "triage", response, time.monotonic() - start

        holder = sqlite3.connect(tmp_path / "triage.db", isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
            with ThreadPoolExecutor(max_workers=8) as pool:
                during = list(pool.map(request, range(8)))
            ready = httpx.get(server.base + "/readyz", timeout=10)  # reads still go on
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        after = [request(number) for number in range(8)]
        output = server.output()

    print("\nwith the database locked:")
    for kind, response, seconds in during:
        print(f"  {kind:<8} {response.status_code} in {seconds:.2f} s "
              f"Retry-After={response.headers.get('retry-after')}")  # fmt: skip
    print("after the lock was released: " + ", ".join(
        f"{kind} {response.status_code}" for kind, response, _ in after
    ))  # fmt: skip
    assert ready.status_code == 200, ready.text
    for kind, response, seconds in during:
        assert BUSY_TIMEOUT * 0.9 <= seconds < BUSY_TIMEOUT + 5, (kind, seconds)
        if kind == "triage":
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["stored"] is False and body["departments"], body
        else:
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert int(response.headers["retry-after"]) > 0
            assert "database is busy" in response.json()["detail"]
    for kind, response, _ in after:
        if kind == "triage":
            assert response.status_code == 200 and response.json()["stored"] is True
        else:
            assert response.status_code == 201, response.text  # the same keys, stored now
    assert "Traceback" not in output, output
    assert output.count("not stored: database busy") == 4, output


def stored_feedback(database: Path, prefix: str) -> dict[str, dict[str, Any]]:
    """The feedback rows whose idempotency key starts with `prefix`, by key."""
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = connection.execute(
            "SELECT idempotency_key, triage_id, departments, escalate, author, comment "
            "FROM feedback WHERE idempotency_key LIKE ?",
            (prefix + "%",),
        ).fetchall()
    connection.close()
    return {
        key: {"triage_id": triage_id, "departments": json.loads(departments),
              "escalate": bool(escalate), "author": author, "comment": comment}
        for key, triage_id, departments, escalate, author, comment in rows
    }  # fmt: skip


def burst_until_killed(
    server: Server, ids: list[str], prefix: str, threads: int, kill_after: float
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Feedback from `threads` clients, each body with its own Idempotency-Key, until the
    server (parent and workers) is killed with SIGKILL `kill_after` seconds after the first
    acknowledgement (a busy machine can take longer than that to answer the first one).
    Returns the bodies acknowledged with a 2xx by key, and the keys on the wire at the kill."""
    acknowledged: dict[str, dict[str, Any]] = {}
    unanswered: list[str] = []
    lock = threading.Lock()
    first = threading.Event()

    def client(number: int) -> None:
        with httpx.Client(base_url=server.base, timeout=30) as http:
            for i in range(100_000):
                key = f"{prefix}client{number}-{i}"
                body = correction(ids[(number + i) % len(ids)], key)
                try:
                    response = http.post(
                        "/v1/feedback", json=body, headers={"Idempotency-Key": key}
                    )
                except httpx.HTTPError:  # the kill: this one was on the wire
                    with lock:
                        unanswered.append(key)
                    return
                assert response.status_code in (201, 503), response.text
                if response.status_code == 201:
                    with lock:
                        acknowledged[key] = body
                    first.set()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(client, n) for n in range(threads)]
        first.wait(timeout=30)
        time.sleep(kill_after)
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
        for future in futures:
            future.result(timeout=60)
    return acknowledged, unanswered


def test_no_acknowledged_feedback_is_lost_when_the_server_is_killed(
    tmp_path: Path, models_dir_with_champion: tuple[Path, str]
) -> None:
    """Three runs on one database, each server killed (parent and workers, SIGKILL) at a
    random moment of a feedback burst; the next run starts on what the kill left."""
    models_dir, _ = models_dir_with_champion
    database = tmp_path / "triage.db"
    pace = random.Random(SEED)
    totals: Counter[str] = Counter()
    for run in range(3):
        kill_after = pace.uniform(0.3, 1.5)
        with running_server(tmp_path, models_dir, workers=WORKERS) as server:
            server.wait_for_output(STARTED, WORKERS)
            ids = triage_ids(server, 10)
            acknowledged, unanswered = burst_until_killed(
                server, ids, f"run{run}-", threads=8, kill_after=kill_after
            )

        rows = stored_feedback(database, f"run{run}-")
        lost = [key for key in acknowledged if key not in rows]
        torn = [key for key, body in acknowledged.items() if key in rows and rows[key] != body]
        in_flight = {key for key in unanswered if key in rows}
        print(
            f"\nrun {run}: killed {kill_after:.2f} s after the first 2xx; "
            f"acknowledged {len(acknowledged)}, rows {len(rows)}, "
            f"unanswered at the kill {len(unanswered)} (stored all the same: {len(in_flight)}); "
            f"lost {len(lost)}, torn {len(torn)}"
        )
        totals.update(acknowledged=len(acknowledged), rows=len(rows), lost=len(lost))
        assert acknowledged, "no feedback was acknowledged before the kill"
        assert lost == [] and torn == [], (lost[:5], torn[:5])
        assert len(rows) >= len(acknowledged)
        # Every row is a request that was sent: acknowledged, or on the wire at the kill.
        assert set(rows) <= set(acknowledged) | set(unanswered)
    print(f"all runs: {dict(totals)}")
