"""API keys and scopes: who is calling, and may they call this route.

Routes declare the scope they need with `Depends(require("triage"))`; the dependency
answers 401 (no valid key) or 403 (the key lacks the scope) as problem+json.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from fastapi import Request

Scope = Literal["triage", "feedback", "admin"]
SCOPES: tuple[Scope, ...] = ("triage", "feedback", "admin")


@dataclass(frozen=True)
class Caller:
    """The key a request came with; `key_id` is None for an anonymous loopback caller."""

    key_id: str | None
    name: str
    scopes: frozenset[str]


ANONYMOUS = Caller(None, "anonymous", frozenset(SCOPES))


def require(scope: Scope) -> Callable[[Request], Caller]:
    """A dependency that lets a request through only with a key holding `scope`."""

    def check(request: Request) -> Caller:
        # Not enforced yet: keys land in the next commit.
        return ANONYMOUS

    return check
