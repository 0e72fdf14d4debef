"""Every HTTP error is RFC 9457 problem+json, produced here and nowhere else."""

from __future__ import annotations

import logging
import sys
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from classifier.api.auth import Forbidden, Unauthorized
from classifier.api.deps import not_ready_reason
from classifier.api.throttle import RateLimited
from classifier.store import DatabaseBusy, IdempotencyConflict, NotFound
from classifier.triage import ModelNotReady

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


def title(status: int) -> str:
    """The problem title for an HTTP status."""
    return _TITLES.get(status, "Error")


def problem(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title(status),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    if status == 503:
        headers = {"Retry-After": "5", **(headers or {})}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _message(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        position = error.get("loc", ("body", "?"))[-1]
        return f"not valid JSON: {error.get('ctx', {}).get('error')} at character {position}"
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if any(e.get("loc") == ("body",) and isinstance(e.get("input"), bytes) for e in exc.errors()):
        # FastAPI left the body unparsed: its Content-Type does not say JSON.
        got = request.headers.get("content-type") or "none"
        detail = f"the body must be JSON sent with Content-Type: application/json (got {got})"
        return problem(415, detail, instance=request.url.path)
    errors = [
        {
            "field": "body" if e.get("type") == "json_invalid" else _field(e.get("loc", ())),
            "message": _message(e),
        }
        for e in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
    return problem(422, detail, instance=request.url.path, errors=errors)


def _unreadable(cause: BaseException | None) -> str:
    """Why a body could not be parsed at all, in words a client can act on."""
    if isinstance(cause, UnicodeDecodeError):
        return (
            f"the body is not valid {cause.encoding} (byte 0x{cause.object[cause.start]:02x} at "
            f"position {cause.start}); send JSON encoded as UTF-8"
        )
    if isinstance(cause, RecursionError):
        return "the JSON body is nested too deeply to be read"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        limit = sys.get_int_max_str_digits()
        return f"a number in the JSON body has more than {limit} digits"
    return f"the body could not be read as JSON ({type(cause).__name__})"


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = str(exc.detail)
    if exc.status_code == 400 and detail == "There was an error parsing the body":
        detail = _unreadable(exc.__cause__)  # FastAPI's words say nothing of why
    return problem(exc.status_code, detail, instance=request.url.path)


async def _not_ready(request: Request, exc: Exception) -> JSONResponse:
    reason = not_ready_reason(request) or str(exc)
    return problem(503, f"no model is ready: {reason}", instance=request.url.path)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return problem(404, str(exc), instance=request.url.path)


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return problem(409, str(exc), instance=request.url.path)


async def _unauthorized(request: Request, exc: Exception) -> JSONResponse:
    return problem(401, str(exc), instance=request.url.path, headers={"WWW-Authenticate": "Bearer"})


async def _forbidden(request: Request, exc: Exception) -> JSONResponse:
    return problem(403, str(exc), instance=request.url.path)


async def _rate_limited(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimited)
    return problem(
        429, str(exc), instance=request.url.path, headers={"Retry-After": str(exc.retry_after)}
    )


async def _busy(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database busy on %s: %s", request.url.path, getattr(exc, "orig", exc))
    return problem(
        503,
        "the database is busy (another writer holds its lock); nothing was stored, "
        "send the same request again after Retry-After seconds",
        instance=request.url.path,
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s", request.url.path)
    return problem(
        500, "an unexpected error occurred; it has been logged", instance=request.url.path
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(ModelNotReady, _not_ready)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(IdempotencyConflict, _conflict)
    app.add_exception_handler(Unauthorized, _unauthorized)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(RateLimited, _rate_limited)
    app.add_exception_handler(DatabaseBusy, _busy)
    app.add_exception_handler(Exception, _unexpected)


class NulRefusalMiddleware:
    """400 for a URL holding the NUL character (%00): no id, case reference or filter holds
    one, and PostgreSQL cannot even compare a string that does (it would be a 500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = scope.get("query_string", b"") if scope["type"] == "http" else b""
        if scope["type"] == "http" and (
            "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query
        ):
            detail = "the URL must not contain the NUL character (%00)"
            await problem(400, detail, instance=scope.get("path", "").replace("\x00", "%00"))(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Rejects bodies over `limit` bytes with 413: at once when Content-Length says so, and
    while streaming otherwise (chunked bodies or a lying Content-Length). `paths` gives some
    exact paths a limit of their own (the batch route takes far more than one complaint)."""

    def __init__(self, app: ASGIApp, limit: int, paths: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.paths = paths or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.paths.get(scope["path"], self.limit)
        detail = f"the request body is larger than the limit of {limit} bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await problem(413, detail, instance=scope.get("path"))(scope, receive, send)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the body read, so FastAPI and Starlette route it to the
                    # HTTPException handler above like any other 413.
                    raise StarletteHTTPException(413, detail)
            return message

        await self.app(scope, limited_receive, send)
