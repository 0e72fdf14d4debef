"""POST /v1/triage, and stored triages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Response

from classifier.api.auth import GUARDED, require
from classifier.api.deps import ServiceDep, StoreDep
from classifier.api.schemas import StoredTriageOut, TriageRequest, TriageResponse

router = APIRouter(
    prefix="/v1", tags=["triage"], dependencies=[Depends(require("triage"))], responses=GUARDED
)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


@router.post(
    "/triage",
    response_model=TriageResponse,
    responses={413: _PROBLEM, 422: _PROBLEM, 503: _PROBLEM},
)
async def triage(request: TriageRequest, service: ServiceDep) -> Response:
    """Departments with evidence, escalation with reasons, handoff notes and the customer
    update for one complaint. `model_version` (and the X-Model-Version header) name the
    model that produced it."""
    result = await service.triage_async(request.text, request.context())
    # Validated once here and sent as it is: returned as a model, it would be validated
    # and encoded again by FastAPI.
    body = TriageResponse.from_result(result, service.names()).model_dump_json()
    version = result.classification.model_version
    return Response(body, media_type="application/json", headers={"X-Model-Version": version})


@router.get("/triages/{triage_id}", response_model=StoredTriageOut, responses={404: _PROBLEM})
def stored_triage(triage_id: str, store: StoreDep) -> StoredTriageOut:
    """A stored triage as it was returned, with its text, its handoffs' statuses and the
    agents' corrections."""
    return StoredTriageOut.of(store.triage(triage_id), datetime.now(UTC))
