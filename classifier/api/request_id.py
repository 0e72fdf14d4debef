"""X-Request-ID: taken from the request when it is sane, made up otherwise, returned on every
response, attached to every log line written meanwhile, and one access line per request.

A pure ASGI middleware: Starlette's BaseHTTPMiddleware would add a task and a stream per
request. It must wrap the whole application, Starlette's error middleware included, so that
a 500 carries the id too: `RequestIdApp` puts it there.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from classifier.logs import MASKED, request_id
from classifier.redact import mask

HEADER = b"x-request-id"
# Visible ASCII only, at most 128 characters: anything else could forge or break log lines.
_SANE = re.compile(rb"[\x21-\x7e]{1,128}")

access = logging.getLogger("classifier.access")


def _given_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == HEADER:
            return value.decode("ascii") if _SANE.fullmatch(value) else None
    return None


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _given_id(scope) or uuid.uuid4().hex
        header = (HEADER, rid.encode("ascii"))
        status = 500  # what the client gets if the app fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        token = request_id.set(rid)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if access.isEnabledFor(logging.INFO):
                _access_line(scope, status, (time.perf_counter() - started) * 1000)
            request_id.reset(token)


def _access_line(scope: Scope, status: int, duration_ms: float) -> None:
    client = scope.get("client")
    host = client[0] if client else "-"
    # The path is the only part a caller writes: masked here once, the line is marked
    # masked, and the log filter does not search the message and the path again.
    method, path = scope["method"], mask(scope["path"])
    access.info(
        '%s "%s %s" %d %.1f ms', host, method, path, status, duration_ms,
        extra={"method": method, "path": path, "status": status,
               "duration_ms": round(duration_ms, 2), "client": host, MASKED: True},
    )  # fmt: skip


class RequestIdApp(FastAPI):
    """FastAPI with `RequestIdMiddleware` outside everything else."""

    def build_middleware_stack(self) -> ASGIApp:
        return RequestIdMiddleware(super().build_middleware_stack())
