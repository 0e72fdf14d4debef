"""The OpenAPI schema says what errors really look like: RFC 9457 problem+json, everywhere.

FastAPI documents its own 422 body (`HTTPValidationError`, application/json), which this API
never sends, and leaves the problem+json answers that routes declare without a schema. Every
4xx/5xx answer is declared here with the `Problem` model instead, and the answers any route
can give (an unreadable body, a wrong Content-Type, an oversized body, an invalid parameter)
are added to the operations that take a body or parameters.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from classifier.api.errors import PROBLEM_JSON, title

_REF = "#/components/schemas/"
_BODY_PROBLEMS = (400, 413, 415, 422)  # unreadable, too large, not JSON, invalid
_PARAMETER_PROBLEMS = (400, 422)  # NUL in the URL, invalid


class FieldProblem(BaseModel):
    field: str = Field(description="The field, dotted for nested ones: customer.tier.")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem detail: why the request failed."""

    # Some problems carry more members (RFC 9457 allows extensions).
    model_config = ConfigDict(extra="allow")

    type: str = Field("about:blank", description="A URI naming the problem type.")
    title: str = Field(description="The status in words, e.g. Invalid input.")
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="What was wrong with this request, for people.")
    instance: str | None = Field(None, description="The path the request was made to.")
    errors: list[FieldProblem] | None = Field(None, description="422: each invalid field.")


def _declare(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    statuses: set[int] = set()
    if "requestBody" in operation:
        statuses.update(_BODY_PROBLEMS)
    if operation.get("parameters"):
        statuses.update(_PARAMETER_PROBLEMS)
    for status in sorted(statuses):
        responses.setdefault(str(status), {"description": title(status)})
    for code, response in responses.items():
        if code[0] in "45":
            response["content"] = {PROBLEM_JSON: {"schema": {"$ref": _REF + "Problem"}}}


def with_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with every error answer declared as a Problem (changed in place)."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            _declare(operation)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template=_REF + "{model}")
    components.update(problem.pop("$defs", {}))
    components["Problem"] = problem
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def document_problems(app: FastAPI) -> None:
    """Make `app`'s OpenAPI schema declare its problem+json answers."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
