"""Hostile requests through TestClient: each is a 4xx problem+json that says what is wrong,
never a 5xx. (tests/test_hostile_server.py sends the streaming ones to a real server.)"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from tests.test_api import COMPLAINT, assert_problem

JSON = {"content-type": "application/json"}
BIG = b'{"text": "' + b"y" * 70_000 + b'"}'
FINITE = "amount.value: Input should be a finite number"


def _feedback_body(client: TestClient) -> bytes:
    triage_id = client.post("/v1/triage", json={"text": COMPLAINT}).json()["triage_id"]
    body = {"triage_id": triage_id, "departments": ["finance"], "escalate": False,
            "comment": "z" * 70_000}  # fmt: skip
    return json.dumps(body).encode()


@pytest.mark.parametrize("path", ["/v1/triage", "/v1/feedback"])
def test_an_oversized_body_is_413_by_content_length(client: TestClient, path: str) -> None:
    response = client.post(path, content=BIG, headers=JSON)
    assert response.request.headers["content-length"] == str(len(BIG))
    assert_problem(response, 413, "larger than the limit of 65536 bytes")


def test_an_oversized_feedback_streamed_without_length_is_413(
    client: TestClient, streamed_json: Callable[[int], Iterator[bytes]]
) -> None:
    body = _feedback_body(client)
    chunks = (body[i : i + 1024] for i in range(0, len(body), 1024))
    response = client.post("/v1/feedback", content=chunks, headers=JSON)
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413, "larger than the limit of 65536 bytes")
    assert client.get("/v1/handoffs").status_code == 200


def test_a_small_content_length_before_a_big_body_is_413(client: TestClient) -> None:
    """The app counts the bytes it receives, not the bytes announced (a real server cuts the
    body at the announced length: see test_hostile_server)."""
    response = client.post("/v1/triage", content=BIG, headers={**JSON, "content-length": "10"})
    assert response.request.headers["content-length"] == "10"
    assert_problem(response, 413, "larger than the limit of 65536 bytes")


@pytest.mark.parametrize(
    "body",
    [b"[" * 60_000, b'{"a":' * 12_000, b'{"text": "x", "customer": ' + b"[" * 30_000],
    ids=["arrays", "objects", "inside-a-field"],
)
def test_deeply_nested_json_is_400_not_500(client: TestClient, body: bytes) -> None:
    assert len(body) < 65_536  # under the size limit: the parser itself meets it
    assert_problem(client.post("/v1/triage", content=body, headers=JSON), 400, "nested too deeply")


def test_nesting_the_parser_can_read_is_a_422_naming_the_field(client: TestClient) -> None:
    body = b'{"text": "x y z", "customer": ' + b"[" * 500 + b"]" * 500 + b"}"
    response = client.post("/v1/triage", content=body, headers=JSON)
    assert_problem(response, 422, "customer: Input should be a valid dictionary")


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"content": b'{"text": "charged twice"}', "headers": {"content-type": "text/plain"}},
         "text/plain"),
        ({"data": {"text": "charged twice"}}, "application/x-www-form-urlencoded"),
        ({"files": {"text": ("complaint.txt", b"charged twice")}}, "multipart/form-data"),
        ({"content": b'{"text": "charged twice"}'}, "(got none)"),
    ],
    ids=["text", "form", "multipart", "missing"],
)  # fmt: skip
def test_a_body_that_is_not_json_is_415_saying_what_came(
    client: TestClient, kwargs: dict[str, object], named: str
) -> None:
    response = client.post("/v1/triage", **kwargs)  # type: ignore[arg-type]
    body = assert_problem(response, 415, "must be JSON sent with Content-Type: application/json")
    assert named in body["detail"]


def test_json_with_a_charset_or_a_json_subtype_is_accepted(client: TestClient) -> None:
    body = json.dumps({"text": COMPLAINT}).encode()
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = client.post("/v1/triage", content=body, headers={"content-type": content_type})
        assert response.status_code == 200, response.text


def test_invalid_utf8_is_400_naming_the_byte(client: TestClient) -> None:
    body = b'{"text": "caf\xe9 was cold"}'
    response = client.post("/v1/triage", content=body, headers=JSON)
    problem = assert_problem(response, 400, "not valid utf-8 (byte 0xe9 at position 13)")
    assert "send JSON encoded as UTF-8" in problem["detail"]


def test_a_malformed_json_body_is_422_saying_where(client: TestClient) -> None:
    response = client.post("/v1/triage", content=b'{"text": "x",}', headers=JSON)
    problem = assert_problem(response, 422, "body: not valid JSON: ")
    assert problem["errors"][0]["field"] == "body" and "at character 13" in problem["detail"]


def test_a_number_with_thousands_of_digits_is_400(client: TestClient) -> None:
    limit = sys.get_int_max_str_digits()
    body = b'{"text": "x y z", "customer": {"previous_contacts": ' + b"9" * 60_000 + b"}}"
    response = client.post("/v1/triage", content=body, headers=JSON)
    assert_problem(response, 400, f"a number in the JSON body has more than {limit} digits")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"1" * 4000, "body: Input should be a valid dictionary"),
        (json.dumps("x" * 60_000).encode(), "body: Input should be a valid dictionary"),
        (json.dumps({"text": "x" * 60_000}).encode(), "text: String should have at most 20000"),
        (b'{"text": "x y z", "customer": {"previous_contacts": ' + b"9" * 4000 + b"}}",
         "customer.previous_contacts: Input should be less than or equal to 1000"),
        (b'{"text": "x y z", "amount": {"value": 1' + b"0" * 400 + b"}}",
         "amount.value: Input should be a valid number"),
        (b'{"text": "x y z", "amount": {"value": 1e400}}', FINITE),
        (b'{"text": "x y z", "amount": {"value": Infinity}}', FINITE),
        (b'{"text": "x y z", "amount": {"value": NaN}}', FINITE),
    ],
    ids=["number", "string", "long-text", "big-int", "huge-amount", "1e400", "infinity", "nan"],
)  # fmt: skip
def test_huge_values_within_the_size_limit_are_422(
    client: TestClient, body: bytes, detail: str
) -> None:
    assert len(body) < 65_536
    assert_problem(client.post("/v1/triage", content=body, headers=JSON), 422, detail)


@pytest.mark.parametrize(
    "body",
    [
        {"text": "charged\x00 twice"},
        {"text": COMPLAINT, "case_ref": "CRM-\x00"},
        {"text": COMPLAINT, "customer": {"name": "Ana\x00"}},
        {"text": COMPLAINT, "amount": {"value": 5, "currency": "E\x00R"}},
    ],
    ids=["text", "case_ref", "customer.name", "amount.currency"],
)
def test_a_nul_character_in_a_stored_string_is_422_on_either_database(
    api: TestClient, body: dict[str, object]
) -> None:
    """PostgreSQL cannot store U+0000: this was a 500 there."""
    response = api.post("/v1/triage", json=body)
    assert_problem(response, 422, "must not contain the NUL character (U+0000)")


def test_a_nul_character_in_feedback_and_acknowledgements_is_422(api: TestClient) -> None:
    triage = api.post("/v1/triage", json={"text": COMPLAINT}).json()
    correction = {"triage_id": triage["triage_id"], "departments": ["finance"],
                  "escalate": False, "comment": "\x00"}  # fmt: skip
    assert_problem(api.post("/v1/feedback", json=correction), 422, "comment: must not contain")
    ack = api.post(f"/v1/handoffs/{triage['handoffs'][0]['id']}/ack", json={"by": "A\x00"})
    assert_problem(ack, 422, "by: must not contain the NUL character")


@pytest.mark.parametrize(
    "url",
    ["/v1/triages/%00", "/v1/handoffs?department=%00", "/v1/cases/CRM%001",
     "/v1/handoffs/x%00/ack", "/triages/%00"],
)  # fmt: skip
def test_a_nul_character_in_the_url_is_400_on_either_database(api: TestClient, url: str) -> None:
    """PostgreSQL cannot even compare a string holding U+0000: these were 500s there."""
    method = "POST" if url.endswith("/ack") else "DELETE" if "/cases/" in url else "GET"
    response = api.request(method, url, json={"by": "ana"} if method == "POST" else None)
    assert_problem(response, 400, "the URL must not contain the NUL character (%00)")


def test_a_case_ref_with_a_line_break_can_be_erased(api: TestClient) -> None:
    triage_id = api.post("/v1/triage", json={"text": COMPLAINT, "case_ref": "CRM\n7"}).json()[
        "triage_id"
    ]
    report = api.delete("/v1/cases/CRM%0A7").json()
    assert report["case_ref"] == "CRM\n7" and report["triage_ids"] == [triage_id]
