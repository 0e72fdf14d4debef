"""POST /v1/triage/batch: many complaints in one request, one result slot per item.

Items arrive as raw JSON objects and are validated one by one, so one item's bad input is
reported in its own slot while the others are triaged; the valid ones are classified
together and stored in one transaction.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from classifier.api.auth import GUARDED, require
from classifier.api.deps import ServiceDep
from classifier.api.errors import problem
from classifier.api.schemas import TriageRequest, TriageResponse

router = APIRouter(prefix="/v1", tags=["triage"], responses=GUARDED)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[dict[str, Any]] = Field(
        min_length=1,
        description="The complaints, each a body of POST /v1/triage; at most"
        " CT_MAX_BATCH_ITEMS (500 by default). Each is validated on its own.",
    )


class FieldError(BaseModel):
    field: str = Field(description="Where in the request body, e.g. items.3.text.")
    message: str


class BatchSuccess(BaseModel):
    index: int = Field(description="The item's position in `items`, from 0.")
    ok: Literal[True]
    result: TriageResponse


class BatchFailure(BaseModel):
    index: int = Field(description="The item's position in `items`, from 0.")
    ok: Literal[False]
    status: int = Field(description="The status a single POST /v1/triage would have had.")
    detail: str
    errors: list[FieldError]


class BatchResponse(BaseModel):
    succeeded: int
    failed: int
    # `ok` tells the two apart; no OpenAPI discriminator, whose values must be strings
    results: list[BatchSuccess | BatchFailure] = Field(
        description="One slot per item, in the order of `items`."
    )


def _failure(index: int, error: ValidationError) -> BatchFailure:
    errors = []
    for e in error.errors():
        where = ".".join(["items", str(index), *(str(p) for p in e.get("loc", ()))])
        errors.append(FieldError(field=where, message=e["msg"].removeprefix("Value error, ")))
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return BatchFailure(index=index, ok=False, status=422, detail=detail, errors=errors)


@router.post(
    "/triage/batch",
    response_model=BatchResponse,
    dependencies=[Depends(require("triage"))],
    responses={413: _PROBLEM, 422: _PROBLEM, 503: _PROBLEM},
)
def triage_batch(
    body: BatchRequest, request: Request, service: ServiceDep, response: Response
) -> BatchResponse | JSONResponse:
    """Many complaints at once; results come back in order, one slot per item. An item
    with bad input gets `ok: false` and its errors in its slot, and the others are still
    triaged and stored. More items than CT_MAX_BATCH_ITEMS is a 422 for the whole request."""
    limit: int = request.app.state.settings.max_batch_items
    if len(body.items) > limit:
        message = f"at most {limit} items in one batch, got {len(body.items)}"
        return problem(
            422,
            f"items: {message}",
            instance=request.url.path,
            errors=[{"field": "items", "message": message}],
        )
    slots: list[BatchSuccess | BatchFailure | None] = [None] * len(body.items)
    valid: list[tuple[int, TriageRequest]] = []
    for index, item in enumerate(body.items):
        try:
            valid.append((index, TriageRequest.model_validate(item)))
        except ValidationError as error:
            slots[index] = _failure(index, error)
    results = service.triage_many(
        [item.text for _, item in valid], [item.context() for _, item in valid]
    )
    names = service.names()
    for (index, _), result in zip(valid, results, strict=True):
        slots[index] = BatchSuccess(
            index=index, ok=True, result=TriageResponse.from_result(result, names)
        )
    if results:
        response.headers["X-Model-Version"] = results[0].classification.model_version
    filled = [slot for slot in slots if slot is not None]
    return BatchResponse(succeeded=len(results), failed=len(filled) - len(results), results=filled)
