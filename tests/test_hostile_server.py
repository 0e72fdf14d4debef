"""Hostile bodies sent to the real server (uvicorn) over a raw socket, where framing is real:
chunked bodies, and a Content-Length that lies."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from classifier import registry
from classifier.catalogue import DEPARTMENT_IDS
from classifier.model import TriageModel
from tests.serving import running_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, tiny_model: TriageModel) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("hostile")
    models_dir = directory / "models"
    version = "2026-01-01T00-00-00Z-abcdef"
    registry.save(models_dir, tiny_model, {"labels": list(DEPARTMENT_IDS)}, "# card\n", version)
    registry.set_champion(models_dir, version)
    with running_server(Path(directory), models_dir) as server:
        yield server.base


def _exchange(base: str, head: bytes, chunks: list[bytes]) -> http.client.HTTPResponse:
    """Send `head` and then `chunks` as they are, and read the first response. The server may
    answer and stop reading before all is sent; that is not an error here."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    try:
        sock.sendall(head)
        for chunk in chunks:
            sock.sendall(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    response = http.client.HTTPResponse(sock)
    response.begin()
    response.sock = sock  # closed with the response
    return response


def _problem(response: http.client.HTTPResponse, status: int, detail: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(response.read())
    response.close()
    assert response.status == status, body
    assert response.getheader("content-type") == "application/problem+json"
    assert body["status"] == status and detail in body["detail"], body
    return body


def _request(length: str | None, chunked: bool = False) -> bytes:
    lines = ["POST /v1/triage HTTP/1.1", "Host: test", "Content-Type: application/json"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_chunked_body_over_the_limit_is_413(base: str) -> None:
    piece = b"y" * 4096
    chunks = [b'a\r\n{"text": "\r\n'] + [b"1000\r\n" + piece + b"\r\n"] * 25 + [b"0\r\n\r\n"]
    response = _exchange(base, _request(None, chunked=True), chunks)
    _problem(response, 413, "larger than the limit of 65536 bytes")


def test_a_content_length_over_the_limit_is_413_before_the_body_is_read(base: str) -> None:
    response = _exchange(base, _request("1000000"), [b'{"text": "'])
    _problem(response, 413, "larger than the limit of 65536 bytes")


def test_a_small_content_length_before_a_big_body_is_refused_by_the_server(base: str) -> None:
    """HTTP framing: the body is the announced 10 bytes; the bytes after it are no request,
    and uvicorn refuses them with its own plain-text 400 and closes the connection before
    the app's answer to the 10 bytes (a 422: not JSON) is written. The app never sees more
    than 10 bytes, and the server answers new connections."""
    body = b'{"text": "' + b"y" * 100_000 + b'"}'
    response = _exchange(base, _request("10") + body, [])
    assert response.status == 400
    assert response.getheader("content-type") == "text/plain; charset=utf-8"
    assert response.getheader("connection") == "close"
    assert response.read() == b"Invalid HTTP request received."
    response.close()
    assert httpx.get(f"{base}/livez").json() == {"status": "alive"}


def test_a_chunked_deeply_nested_body_is_400(base: str) -> None:
    nested = b"[" * 60_000
    chunks = [f"{len(nested):x}\r\n".encode() + nested + b"\r\n", b"0\r\n\r\n"]
    response = _exchange(base, _request(None, chunked=True), chunks)
    _problem(response, 400, "nested too deeply")


def test_invalid_utf8_and_a_wrong_content_type_over_the_wire(base: str) -> None:
    response = httpx.post(
        f"{base}/v1/triage",
        content=b'{"text": "\xff"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400 and "not valid utf-8" in response.json()["detail"]
    assert response.headers["content-type"] == "application/problem+json"
    response = httpx.post(
        f"{base}/v1/triage", content=b"text=hi", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415 and "(got text/plain)" in response.json()["detail"]
