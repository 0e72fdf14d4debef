"""API key management over HTTP (scope `admin`): create, list, revoke."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from classifier.api.auth import GUARDED, require
from classifier.case import InputModel
from classifier.keys import ApiKey, KeyProblem, KeyRing
from classifier.store import NotFound

router = APIRouter(
    prefix="/v1/keys", tags=["keys"], dependencies=[Depends(require("admin"))], responses=GUARDED
)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


class KeyIn(InputModel):
    name: str = Field(min_length=1, max_length=120, examples=["crm"])
    scopes: list[Literal["triage", "feedback", "admin"]] = Field(min_length=1)


class KeyOut(BaseModel):
    id: str
    name: str
    scopes: list[str]
    created: datetime
    revoked: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        return cls(id=key.id, name=key.name, scopes=list(key.scopes), created=key.created,
                   revoked=key.revoked)  # fmt: skip


class IssuedKey(KeyOut):
    key: str = Field(description="The key itself: shown this once, only its hash is stored.")


def _ring(request: Request) -> KeyRing:
    ring: KeyRing = request.app.state.gate.keys
    return ring


@router.get("", response_model=list[KeyOut])
def list_keys(request: Request) -> list[KeyOut]:
    """Every key with its scopes, creation and revocation times (never the key itself)."""
    return [KeyOut.of(k) for k in _ring(request).list()]


@router.post("", response_model=IssuedKey, status_code=201, responses={422: _PROBLEM})
def create_key(body: KeyIn, request: Request) -> IssuedKey:
    """Issue a key; the response is the only time its text is shown."""
    key, text = _ring(request).create(body.name, body.scopes, datetime.now(UTC))
    return IssuedKey(**KeyOut.of(key).model_dump(), key=text)


@router.delete("/{key_id}", response_model=KeyOut, responses={404: _PROBLEM})
def revoke_key(key_id: str, request: Request) -> KeyOut:
    """Revoke a key: it is refused from then on (within 5 s in other worker processes)."""
    try:
        return KeyOut.of(_ring(request).revoke(key_id, datetime.now(UTC)))
    except KeyProblem as exc:
        raise NotFound(str(exc)) from exc
