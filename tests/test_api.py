"""The HTTP API through TestClient: content of answers, and problem+json for every error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, cast

import httpx
from fastapi.testclient import TestClient

from classifier.api.app import create_app
from classifier.catalogue import Catalogue
from classifier.settings import Settings

COMPLAINT = (
    "I was charged twice for order 558120 and I want a refund of the second payment of "
    "£89.99 to my card. Please sort this out."
)


def assert_problem(response: httpx.Response, status: int, detail_part: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"] == "about:blank"
    assert detail_part in body["detail"], body["detail"]
    return cast(dict[str, Any], body)


def test_triage_returns_departments_escalation_and_drafts(
    client: TestClient, catalogue: Catalogue
) -> None:
    response = client.post(
        "/v1/triage",
        json={
            "text": COMPLAINT,
            "case_ref": "CRM-1234",
            "channel": "email",
            "customer": {"name": "Ana", "tier": "vip", "previous_contacts": 1},
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == "test-tiny" and body["case_ref"] == "CRM-1234"
    ids = [d["id"] for d in body["departments"]]
    assert "finance" in ids
    finance = body["departments"][ids.index("finance")]
    assert finance["name"] == "Finance"
    assert finance["probability"] >= finance["threshold"]
    assert finance["evidence"] and all(
        q["text"] == COMPLAINT[q["start"] : q["end"]] for q in finance["quotes"]
    )
    assert body["escalation"]["escalate"] is True
    assert "customer tier is vip" in body["escalation"]["reasons"]
    assert body["escalation"]["signals"] == []
    assert set(body["probabilities"]) == {*catalogue.ids, "escalate"}
    assert [h["department"] for h in body["handoffs"]] == ids
    for handoff in body["handoffs"]:
        assert "CRM-1234" in handoff["subject"] and "CRM-1234" in handoff["body"]
        assert handoff["name"] in handoff["body"]
        assert "acknowledge" in handoff["body"]
    message = body["customer_message"]
    assert "CRM-1234" in message["body"] and "Dear Ana" in message["body"]
    assert "finance" not in message["body"] and "Finance" not in message["body"]


def test_handoff_states_its_due_time_and_customer_hears_back_after_the_last(
    client: TestClient,
) -> None:
    body = client.post("/v1/triage", json={"text": COMPLAINT}).json()
    assert body["case_ref"].startswith("CT-")
    dues = []
    for handoff in body["handoffs"]:
        due = datetime.fromisoformat(handoff["due"])
        dues.append(due)
        assert due.strftime("%a %d %b %Y %H:%M") in handoff["body"]
        assert due.strftime("%H:%M") in handoff["subject"]
    reply_by = datetime.fromisoformat(body["customer_message"]["reply_by"])
    assert reply_by == max(dues)
    assert reply_by.strftime("%A") in body["customer_message"]["body"]


def test_empty_text_is_422_naming_the_field(client: TestClient) -> None:
    body = assert_problem(client.post("/v1/triage", json={"text": "   \n\t"}), 422, "text")
    assert body["errors"][0]["field"] == "text"


def test_missing_text_is_422(client: TestClient) -> None:
    assert_problem(client.post("/v1/triage", json={"case_ref": "x"}), 422, "text: Field required")


def test_text_over_20000_characters_is_422(client: TestClient) -> None:
    body = assert_problem(
        client.post("/v1/triage", json={"text": "a" * 20_001}),
        422,
        "text: String should have at most 20000",
    )
    assert body["errors"][0]["field"] == "text"


def test_negative_previous_contacts_is_422_naming_the_nested_field(client: TestClient) -> None:
    response = client.post(
        "/v1/triage", json={"text": COMPLAINT, "customer": {"previous_contacts": -1}}
    )
    assert_problem(response, 422, "customer.previous_contacts")


def test_malformed_json_is_422_not_500(client: TestClient) -> None:
    response = client.post(
        "/v1/triage", content=b'{"text": ', headers={"content-type": "application/json"}
    )
    assert_problem(response, 422, "JSON")


def test_body_over_64_kib_is_413_by_content_length(client: TestClient) -> None:
    response = client.post("/v1/triage", json={"text": "x" * 70_000})
    assert_problem(response, 413, "65536 bytes")


def test_body_over_64_kib_is_413_when_streamed_without_content_length(
    client: TestClient, streamed_json: Callable[[int], Iterator[bytes]]
) -> None:
    response = client.post(
        "/v1/triage", content=streamed_json(80), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "larger than the limit")


def test_unknown_route_is_problem_json(client: TestClient) -> None:
    assert_problem(client.get("/v1/nothing"), 404, "Not Found")


def test_model_endpoint_shows_the_serving_version(client: TestClient) -> None:
    body = client.get("/v1/model").json()
    assert body["version"] == "test-tiny" and "labels" in body["metadata"]


def test_health_endpoints(client: TestClient) -> None:
    assert client.get("/livez").json() == {"status": "alive"}
    assert client.get("/readyz").json() == {"status": "ready", "model_version": "test-tiny"}


def test_without_a_model_readyz_and_triage_are_503_saying_why(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        body = assert_problem(client.get("/readyz"), 503, "no champion model")
        assert "complaint-triage train" in body["detail"]
        response = client.post("/v1/triage", json={"text": COMPLAINT})
        assert_problem(response, 503, "no model is ready")
        assert response.headers["retry-after"]
        assert client.get("/livez").status_code == 200


def test_text_signals_are_named_with_offsets(client: TestClient) -> None:
    text = "The parcel never came. If it is not here Friday I will see you in small claims court."
    body = client.post("/v1/triage", json={"text": text}).json()
    escalation = body["escalation"]
    assert escalation["escalate"] is True
    (signal,) = escalation["signals"]
    assert signal["reason"] == "threat of legal action or a regulator complaint"
    assert text[signal["start"] : signal["end"]] == signal["phrase"] == "small claims"
    assert f'{signal["reason"]}: "small claims"' in escalation["reasons"]
