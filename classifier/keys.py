"""API keys: issued once, stored only as a hash, checked on every request, revocable.

A key reads `ct_<id>_<secret>`. The id finds the row; the secret is compared by its sha256.
A plain hash (no slow KDF) is enough because secrets are 256 random bits, not passwords, and
it keeps the check cheap on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from classifier.tables import ApiKeyRow

SCOPES = ("triage", "feedback", "admin")
PREFIX = "ct"
# A revoked key keeps working in other worker processes for at most this long.
CACHE_SECONDS = 5.0
_CACHE_LIMIT = 4096


class KeyProblem(ValueError):
    """A key request that cannot be honoured (unknown scope, blank name, unknown id)."""


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scopes: tuple[str, ...]
    created: datetime
    revoked: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked is None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(row.id, row.name, tuple(row.scopes), row.created, row.revoked)


def parse_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Scopes in their canonical order; an unknown one is an error naming the known ones."""
    wanted = {s.strip() for s in scopes if s.strip()}
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise KeyProblem(f"unknown scope {', '.join(unknown)}: use {', '.join(SCOPES)}")
    if not wanted:
        raise KeyProblem(f"give at least one scope: {', '.join(SCOPES)}")
    return tuple(s for s in SCOPES if s in wanted)


class KeyRing:
    """Issues, lists, revokes and verifies keys stored in the service's database."""

    def __init__(self, engine: Engine, *, cache_seconds: float = CACHE_SECONDS) -> None:
        self.engine = engine
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}

    def create(self, name: str, scopes: Iterable[str], now: datetime) -> tuple[ApiKey, str]:
        """A new key and its full text, which is returned here once and never again."""
        name = name.strip()
        if not name:
            raise KeyProblem("give the key a name, e.g. the system that will use it")
        canonical = parse_scopes(scopes)
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        row = ApiKeyRow(id=key_id, name=name, scopes=list(canonical),
                        secret_sha256=_digest(secret), created=now, revoked=None)  # fmt: skip
        with Session(self.engine) as session, session.begin():
            session.add(row)
            issued = _key(row)
        return issued, f"{PREFIX}_{key_id}_{secret}"

    def list(self) -> list[ApiKey]:
        with Session(self.engine) as session:
            rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created, ApiKeyRow.id))
            return [_key(r) for r in rows]

    def revoke(self, key_id: str, now: datetime) -> ApiKey:
        """Revoke by id (idempotent: revoking twice keeps the first time)."""
        with Session(self.engine) as session, session.begin():
            row = session.get(ApiKeyRow, key_id)
            if row is None:
                raise KeyProblem(
                    f"no key with id {key_id!r}; `complaint-triage keys list` shows them"
                )
            if row.revoked is None:
                row.revoked = now
            revoked = _key(row)
        self._cache.clear()
        return revoked

    def verify(self, presented: str) -> ApiKey | None:
        """The active key this text is, or None. Answers are cached for `cache_seconds`."""
        now = time.monotonic()
        cached = self._cache.get(presented)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = self._lookup(presented)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()  # bounded, so random keys sprayed at the API cannot grow it
        self._cache[presented] = (now + self.cache_seconds, found)
        return found

    def _lookup(self, presented: str) -> ApiKey | None:
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
            return None
        with Session(self.engine) as session:
            row = session.get(ApiKeyRow, parts[1])
        if row is None:
            return None
        if row.revoked is not None or not hmac.compare_digest(row.secret_sha256, _digest(parts[2])):
            return None
        return _key(row)
