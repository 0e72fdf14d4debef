"""Schemathesis against the app's own OpenAPI schema, on SQLite and PostgreSQL.

Every operation in the schema (read from it, so routes added later are covered too) gets
valid and invalid requests; every answer must be no 5xx, and its status, content type and
body must be what the schema declares. Derandomized: the same cases on every run.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from classifier import registry
from classifier.api.app import create_app
from classifier.settings import Settings

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 50  # per operation and generation mode; plus a third more with stored ids
MINIMUM_CASES = 500
UNLIMITED = "1000000/second"
COMPLAINT = "I was charged twice for order 558120 and I want a refund of the second payment."


@pytest.fixture
def schema(
    database_url: str, settings: Settings, tiny_loaded: registry.LoadedModel
) -> Iterator[BaseSchema]:
    # Hundreds of requests a second from one client: not what the rate limit is tested with.
    configured = settings.model_copy(update={"database_url": database_url, "rate_limit": UNLIMITED})
    loaded = schemathesis.openapi.from_asgi("/openapi.json", create_app(configured, tiny_loaded))
    try:
        yield loaded
    finally:
        asgi.shutdown_lifespans()  # from_asgi started the app's lifespan; the store closes


def _stored_ids(schema: BaseSchema) -> dict[str, str]:
    """Path parameter values that name something stored, so lookups also find it."""
    with asgi.get_client(schema.app) as client:
        triage = client.post("/v1/triage", json={"text": COMPLAINT, "case_ref": "ST-1"}).json()
        key = client.post("/v1/keys", json={"name": "st", "scopes": ["triage"]}).json()
    return {
        "key_id": key["id"],
        "triage_id": triage["triage_id"],
        "handoff_id": triage["handoffs"][0]["id"],
        "case_ref": triage["case_ref"],
    }


def _run(strategy: Any, examples: int, statuses: Counter[int]) -> None:
    @given(case=strategy)
    @settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Case) -> None:
        response = case.call()
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    check()


def _fuzz(operation: APIOperation, stored: dict[str, str], statuses: Counter[int]) -> None:
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        try:
            _run(operation.as_strategy(generation_mode=mode), EXAMPLES, statuses)
        except Unsatisfiable:
            # Nothing to make invalid: no parameters, or path strings with no constraint.
            assert mode is GenerationMode.NEGATIVE
    names = re.findall(r"{(\w+)}", operation.path)
    if names and all(name in stored for name in names):
        known = {name: stored[name] for name in names}
        _run(operation.as_strategy(path_parameters=known), EXAMPLES // 3, statuses)
    elif operation.body:
        _run(operation.as_strategy().map(lambda case: _naming(case, stored)), EXAMPLES // 3,
             statuses)  # fmt: skip


def _naming(case: Case, stored: dict[str, str]) -> Case:
    """`case` with the body's fields that name something stored (triage_id) naming it."""
    if isinstance(case.body, dict):
        case.body.update({k: v for k, v in stored.items() if k in case.body})
    return case


def test_every_operation_answers_as_its_schema_declares(schema: BaseSchema) -> None:
    started = time.monotonic()
    stored = _stored_ids(schema)
    per_operation: dict[str, Counter[int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        per_operation[operation.label] = Counter()
        _fuzz(operation, stored, per_operation[operation.label])
    total = sum(sum(statuses.values()) for statuses in per_operation.values())
    seconds = time.monotonic() - started
    print(f"\nschemathesis: {total} cases in {seconds:.1f} s")
    for label, statuses in per_operation.items():
        print(f"  {label}: {dict(sorted(statuses.items()))}")
    assert total >= MINIMUM_CASES
    assert all(sum(statuses.values()) > 0 for statuses in per_operation.values())
    assert "POST /v1/triage" in per_operation and "DELETE /v1/cases/{case_ref}" in per_operation
    # Not only refusals: each operation that looks up something stored also found it.
    for label, statuses in per_operation.items():
        assert any(200 <= status < 300 for status in statuses), (label, statuses)
