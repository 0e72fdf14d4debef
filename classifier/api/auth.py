"""API keys and scopes: who is calling, may they call this route, and how often.

Routes declare the scope they need with `Depends(require("triage"))`. The dependency answers
401 (no valid key), 403 (the key lacks the scope) or 429 (over the rate limit), all as
problem+json. Keys are optional only while the service listens on loopback, so a quick start
on a laptop needs none, and a server reachable from the network always asks for one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from fastapi import Request

from classifier.api.throttle import Throttle
from classifier.keys import SCOPES, KeyRing
from classifier.settings import Settings

Scope = Literal["triage", "feedback", "admin"]

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
# Declared on every guarded router, so the OpenAPI schema names these answers.
GUARDED: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid API key.", **_PROBLEM},
    403: {"description": "The key lacks the scope.", **_PROBLEM},
    429: {"description": "Over the rate limit; see Retry-After.", **_PROBLEM},
}


@dataclass(frozen=True)
class Caller:
    """The key a request came with; `key_id` is None for an anonymous loopback caller."""

    key_id: str | None
    name: str
    scopes: frozenset[str]


class Unauthorized(Exception):
    """No key, or a key that is not valid (unknown, malformed or revoked)."""


class Forbidden(Exception):
    """A valid key without the scope the route needs."""


@lru_cache(maxsize=256)  # asked on every request about the same few addresses
def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=256)
def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def keys_required(settings: Settings, request: Request) -> bool:
    """Whether this request must carry a key. The configured bind address decides, and so
    does the address the connection came in on: a server started by hand on 0.0.0.0 (not
    through `serve`) still asks callers from other machines for a key."""
    if settings.require_keys or not is_loopback(settings.host):
        return True
    server = request.scope.get("server")
    local = str(server[0]) if server else ""
    return _is_ip(local) and not is_loopback(local)


def presented_key(request: Request) -> str | None:
    """The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`."""
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return request.headers.get("x-api-key") or None


@dataclass(frozen=True)
class Gate:
    """What `require` needs at request time, kept on `app.state.gate`."""

    settings: Settings
    keys: KeyRing
    throttle: Throttle

    def admit(self, request: Request, scope: Scope | None, presented: str | None) -> Caller:
        if presented is None:
            if keys_required(self.settings, request):
                raise Unauthorized(
                    "an API key is required: send `Authorization: Bearer <key>` (create one"
                    " with `complaint-triage keys create --name NAME --scopes SCOPES`)"
                )
            client = request.client.host if request.client else "unknown"
            caller = Caller(None, "anonymous", frozenset(SCOPES))
            self.throttle.check(f"addr:{client}")
            return caller
        key = self.keys.verify(presented)
        if key is None:
            raise Unauthorized("the API key is not valid: unknown, malformed or revoked")
        if scope is not None and scope not in key.scopes:
            raise Forbidden(
                f"the key {key.id!r} ({key.name}) lacks the {scope!r} scope; it has"
                f" {', '.join(key.scopes)}"
            )
        self.throttle.check(f"key:{key.id}")
        return Caller(key.id, key.name, frozenset(key.scopes))


def require(scope: Scope | None) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency admitting a request with a key holding `scope` (None: any valid key)."""

    # async, though it blocks briefly on a key cache miss: a sync dependency would cost every
    # request a trip through the thread pool, and hits are served from memory.
    async def check(request: Request) -> Caller:
        gate: Gate = request.app.state.gate
        return gate.admit(request, scope, presented_key(request))

    return check
