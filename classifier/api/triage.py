"""POST /v1/triage."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from classifier.api.deps import ServiceDep
from classifier.api.schemas import TriageRequest, TriageResponse

router = APIRouter(prefix="/v1", tags=["triage"])

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


@router.post(
    "/triage",
    response_model=TriageResponse,
    responses={413: _PROBLEM, 422: _PROBLEM, 503: _PROBLEM},
)
def triage(request: TriageRequest, service: ServiceDep) -> TriageResponse:
    """Departments with evidence, escalation with reasons, handoff notes and the customer
    update for one complaint."""
    result = service.triage(request.text, request.context())
    names = {d: service.catalogue.name(d) for d in service.catalogue.ids}
    return TriageResponse.from_result(result, names)
