"""X-Request-ID on every response, in every log line of its request, JSON or text lines,
and personal data masked in every message."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from serving import cli, environment, free_port

from classifier import registry
from classifier.api.app import create_app
from classifier.logs import ACCESS_FIELDS, log_config
from classifier.settings import Settings

GIVEN = "crm-2026-11-24T10:00:00Z-0042"
PERSONAL = "write to ana.garcia@example.com or call +44 7700 900123, card 4111 1111 1111 1111"
MASKED = "write to [email***************] or call [phone********], card [card*************]"


class Lines:
    """The server's handler, writing into memory: what a test reads back."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def text(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def json(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text()]


@pytest.fixture
def log_lines(settings: Settings) -> Iterator[Any]:
    """`log_config(settings)` applied with its stream in memory; the logging configuration
    as it was is restored afterwards. Call it with the log format wanted."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    named = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level,
                 logging.getLogger(n).propagate) for n in ("uvicorn", "uvicorn.error",
                                                           "uvicorn.access")}  # fmt: skip

    def configure(log_format: str = "json", log_level: str = "info") -> Lines:
        update = {"log_format": log_format, "log_level": log_level}
        config = log_config(settings.model_copy(update=update))
        stream = io.StringIO()
        config["handlers"]["stderr"]["stream"] = stream
        logging.config.dictConfig(config)
        return Lines(stream)

    yield configure
    for handler in root.handlers:
        if handler not in saved[0]:
            handler.close()
    root.handlers[:], root.level = saved
    for name, (handlers, level, propagate) in named.items():
        logger = logging.getLogger(name)
        logger.handlers[:], logger.level, logger.propagate = handlers, level, propagate


def _app(settings: Settings, model: registry.LoadedModel) -> FastAPI:
    app = create_app(settings, model=model)
    inside = logging.getLogger("classifier.inside")

    @app.get("/sync-log")
    def sync_log() -> dict[str, str]:  # a sync route runs in a worker thread
        inside.info("handled in a thread: %s", PERSONAL)
        return {}

    @app.get("/fail")
    async def fail() -> None:
        raise RuntimeError(f"broke for {PERSONAL}")

    return app


@pytest.fixture
def app_client(settings: Settings, tiny_loaded: registry.LoadedModel) -> Iterator[TestClient]:
    with TestClient(_app(settings, tiny_loaded), raise_server_exceptions=False) as client:
        yield client


def test_an_id_is_made_when_none_is_sent(app_client: TestClient) -> None:
    first, second = app_client.get("/livez"), app_client.get("/livez")
    ids = [r.headers["x-request-id"] for r in (first, second)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids) and ids[0] != ids[1]


def test_a_sane_id_is_echoed(app_client: TestClient) -> None:
    response = app_client.get("/livez", headers={"X-Request-ID": GIVEN})
    assert response.headers["x-request-id"] == GIVEN


@pytest.mark.parametrize(
    "bad",
    [b"x" * 129, b"two words", b"caf\xc3\xa9", b"tab\there", b"", b'{"forged": "json"}\x7f'],
)
def test_an_insane_id_is_replaced(app_client: TestClient, bad: bytes) -> None:
    response = app_client.get("/livez", headers=[(b"x-request-id", bad)])
    returned = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", returned) and returned.encode() != bad


def test_the_longest_id_allowed_is_128_visible_characters(app_client: TestClient) -> None:
    longest = "a-" * 64
    assert (
        app_client.get("/livez", headers={"X-Request-ID": longest}).headers["x-request-id"]
        == longest
    )


def test_errors_too_carry_the_id(app_client: TestClient, settings: Settings) -> None:
    headers = {"X-Request-ID": GIVEN}
    too_big = app_client.post(
        "/v1/triage", content=b"x" * (settings.max_body_bytes + 1), headers=headers
    )
    invalid = app_client.post("/v1/triage", json={"text": ""}, headers=headers)
    missing = app_client.get("/nowhere", headers=headers)
    crashed = app_client.get("/fail", headers=headers)
    assert [r.status_code for r in (too_big, invalid, missing, crashed)] == [413, 422, 404, 500]
    for response in (too_big, invalid, missing, crashed):
        assert response.headers["x-request-id"] == GIVEN
    assert crashed.headers["content-type"] == "application/problem+json"


def test_every_line_of_a_request_carries_its_id_and_one_access_line(
    app_client: TestClient, log_lines: Any
) -> None:
    lines = log_lines("json")
    app_client.get("/sync-log", headers={"X-Request-ID": GIVEN})
    app_client.get("/fail", headers={"X-Request-ID": "second"})
    entries = lines.json()
    mine = [e for e in entries if e["request_id"] == GIVEN]
    assert [e["logger"] for e in mine] == ["classifier.inside", "classifier.access"]
    assert mine[0]["message"] == f"handled in a thread: {MASKED}"
    access = mine[1]
    assert {k: access[k] for k in ("method", "path", "status", "client")} == {
        "method": "GET", "path": "/sync-log", "status": 200, "client": "testclient",
    }  # fmt: skip
    assert isinstance(access["duration_ms"], float) and access["duration_ms"] >= 0
    assert set(ACCESS_FIELDS) <= set(access)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", access["time"])
    assert access["level"] == "INFO"
    # the failed request: its traceback is logged with its id, masked, then its access line
    failed = [e for e in entries if e["request_id"] == "second"]
    assert [e["logger"] for e in failed][-1] == "classifier.access"
    assert failed[-1]["status"] == 500
    error = next(e for e in failed if e["level"] == "ERROR")
    assert "RuntimeError: broke for " + MASKED in error["exception"]
    assert "ana.garcia" not in json.dumps(entries) and "7700 900123" not in json.dumps(entries)


def test_lines_outside_a_request_have_a_null_id(log_lines: Any) -> None:
    lines = log_lines("json")
    logging.getLogger("classifier.startup").warning("no request here, mail %s", "a@b.example")
    (entry,) = lines.json()
    assert entry["request_id"] is None and entry["level"] == "WARNING"
    assert entry["message"] == "no request here, mail [email****]"
    assert "method" not in entry


def test_uvicorn_lines_go_through_the_same_format(log_lines: Any) -> None:
    lines = log_lines("json")
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 4242)
    (entry,) = lines.json()
    assert (entry["logger"], entry["message"]) == ("uvicorn.error", "Started server process [4242]")


def test_text_format_is_one_readable_line_with_the_id(
    app_client: TestClient, log_lines: Any
) -> None:
    lines = log_lines("text")
    app_client.get("/sync-log", headers={"X-Request-ID": GIVEN})
    logging.getLogger("classifier.startup").info("outside")
    # the test client's own httpx line is the client's, not the server's
    inside, access, outside = [line for line in lines.text() if " httpx " not in line]
    assert re.fullmatch(
        rf"\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d,\d{{3}} INFO classifier.inside \[{GIVEN}\] "
        rf"handled in a thread: {re.escape(MASKED)}",
        inside,
    )
    assert f'[{GIVEN}] testclient "GET /sync-log" 200 ' in access and access.endswith(" ms")
    assert outside.endswith("INFO classifier.startup [-] outside")


def test_the_level_setting_drops_lower_lines(log_lines: Any) -> None:
    lines = log_lines("json", "warning")
    logging.getLogger("classifier.x").info("dropped")
    logging.getLogger("uvicorn.error").info("dropped too")
    logging.getLogger("classifier.x").warning("kept")
    assert [e["message"] for e in lines.json()] == ["kept"]


def test_log_config_takes_the_level_and_format_from_the_settings(settings: Settings) -> None:
    config = log_config(settings.model_copy(update={"log_level": "warning", "log_format": "text"}))
    assert config["root"]["level"] == "WARNING"
    assert config["formatters"]["server"]["()"] == "classifier.logs.TextFormatter"
    assert config["handlers"]["stderr"]["filters"] == ["request_id", "mask"]


@pytest.mark.slow
def test_a_real_two_worker_server_writes_json_lines_with_request_ids_to_stderr(
    tmp_path: Path, models_dir_with_champion: tuple[Path, str]
) -> None:
    """`complaint-triage serve --workers 2`: the access lines come from the workers, so
    their being JSON with our ids shows the workers took the log configuration too."""
    models_dir, _ = models_dir_with_champion
    base = f"http://127.0.0.1:{free_port()}"
    stderr = tmp_path / "stderr.log"
    with stderr.open("w") as output:
        process = subprocess.Popen(
            [*cli(), "serve", "--host", "127.0.0.1", "--port", base.rsplit(":", 1)[1],
             "--workers", "2"],
            env=environment(tmp_path, models_dir), cwd=tmp_path,
            stdout=subprocess.DEVNULL, stderr=output,
        )  # fmt: skip
    ids = [f"crm-{n}" for n in range(8)]
    try:
        _wait_ready(base, process, stderr)
        for rid in ids:
            response = httpx.post(f"{base}/v1/triage", json={"text": PERSONAL},
                                  headers={"X-Request-ID": rid}, timeout=30)  # fmt: skip
            assert response.status_code == 200 and response.headers["x-request-id"] == rid
        missing = httpx.get(f"{base}/v1/triages/ana.garcia@example.com", timeout=30)
        assert missing.status_code == 404
    finally:
        process.terminate()
        process.wait(timeout=30)
    text = stderr.read_text()
    entries = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    access = {e["request_id"]: e for e in entries if e["logger"] == "classifier.access"}
    for rid in ids:
        assert (access[rid]["path"], access[rid]["status"]) == ("/v1/triage", 200)
    unknown = access[missing.headers["x-request-id"]]
    assert (unknown["path"], unknown["status"]) == ("/v1/triages/[email***************]", 404)
    started = [e for e in entries if e["message"].startswith("Started server process")]
    assert len(started) == 2 and all(e["logger"] == "uvicorn.error" for e in started)
    assert "ana.garcia" not in text


def _wait_ready(base: str, process: subprocess.Popen[bytes], stderr: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{stderr.read_text()}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"not ready within 60 s:\n{stderr.read_text()}")
