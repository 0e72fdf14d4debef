"""Handoffs: marked sent by the agent, acknowledged by the department, listed when late."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from classifier.api.auth import GUARDED, require
from classifier.api.deps import ServiceDep, StoreDep
from classifier.api.schemas import AckIn, HandoffState, SentIn

router = APIRouter(
    prefix="/v1/handoffs",
    tags=["handoffs"],
    dependencies=[Depends(require("feedback"))],
    responses=GUARDED,
)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


@router.get("", response_model=list[HandoffState], responses={422: _PROBLEM})
def list_handoffs(
    store: StoreDep,
    status: Literal["drafted", "sent", "acknowledged"] | None = None,
    overdue: Annotated[
        bool | None, Query(description="true: past the service level, not acknowledged")
    ] = None,
    department: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[HandoffState]:
    """Handoffs by status and department; `overdue=true` lists those past their department's
    service level without an acknowledgement, the longest overdue first."""
    now = datetime.now(UTC)
    found = store.handoffs(
        now=now, status=status, overdue=overdue, department=department, limit=limit
    )
    return [HandoffState.of(h, now) for h in found]


@router.post("/{handoff_id}/sent", response_model=HandoffState, responses={404: _PROBLEM})
def mark_sent(handoff_id: str, body: SentIn, store: StoreDep, service: ServiceDep) -> HandoffState:
    """Record that the note went to the department (with the agent's edits, if any)."""
    now = datetime.now(UTC)
    handoff = store.mark_sent(handoff_id, by=body.by, now=now,
                              subject=service.storable_text(body.subject),
                              body=service.storable_text(body.body))  # fmt: skip
    return HandoffState.of(handoff, now)


@router.post(
    "/{handoff_id}/ack",
    response_model=HandoffState,
    responses={200: {"model": HandoffState,
                     "description": "Acknowledged before: the first acknowledgement."},
               404: _PROBLEM, 422: _PROBLEM},
    status_code=201,
)  # fmt: skip
def acknowledge(
    handoff_id: str, body: AckIn, store: StoreDep, service: ServiceDep, response: Response
) -> HandoffState:
    """The department confirms it received and understood the handoff. Idempotent: again
    returns the first acknowledgement, unchanged."""
    now = datetime.now(UTC)
    handoff, created = store.acknowledge(
        handoff_id, by=body.by, now=now, note=service.storable_text(body.note)
    )
    if not created:
        response.status_code = 200
    return HandoffState.of(handoff, now)
