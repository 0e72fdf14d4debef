"""POST /v1/feedback: an agent's correction of a triage, idempotent by key."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response

from classifier.api.auth import GUARDED, require
from classifier.api.deps import ServiceDep, StoreDep
from classifier.api.schemas import FeedbackIn, FeedbackOut

router = APIRouter(
    prefix="/v1", tags=["feedback"], dependencies=[Depends(require("feedback"))], responses=GUARDED
)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


@router.post(
    "/feedback",
    response_model=FeedbackOut,
    status_code=201,
    responses={200: {"model": FeedbackOut,
                     "description": "The same key and body came before: the first result."},
               404: _PROBLEM, 409: _PROBLEM, 413: _PROBLEM, 422: _PROBLEM},
)  # fmt: skip
def feedback(
    body: FeedbackIn,
    response: Response,
    store: StoreDep,
    service: ServiceDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=200,
            description="Send the same key when retrying: the first result comes back, and "
            "the key with a different body is a 409.",
        ),
    ] = None,
) -> FeedbackOut:
    """Store the agent's corrected departments and escalation (and edited drafts) for a
    triage. Corrections become training data with `complaint-triage train
    --include-feedback`."""
    correction = service.storable(body.correction())
    stored, created = store.add_feedback(
        body.triage_id, correction, now=datetime.now(UTC), key=idempotency_key
    )
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return FeedbackOut.of(stored)
