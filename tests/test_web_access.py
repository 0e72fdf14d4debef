"""The workspace behind a key: sign-in page, cookie, scopes, and no sign-in on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from classifier import registry
from classifier.api.app import create_app
from classifier.keys import KeyRing
from classifier.settings import Settings

COMPLAINT = "The washing machine leaks from the door seal after two weeks, I want it repaired."


@pytest.fixture
def guarded(settings: Settings, tiny_loaded: registry.LoadedModel) -> Iterator[TestClient]:
    strict = settings.model_copy(update={"require_keys": True})
    with TestClient(create_app(strict, model=tiny_loaded), follow_redirects=False) as client:
        yield client


def _key(client: TestClient, *scopes: str) -> str:
    ring: KeyRing = client.app.state.gate.keys  # type: ignore[attr-defined]
    return ring.create("agent", scopes, datetime.now(UTC))[1]


def test_pages_send_an_agent_without_a_key_to_sign_in(guarded: TestClient) -> None:
    page = guarded.get("/triages")
    assert page.status_code == 303 and page.headers["location"] == "/sign-in?next=/triages"
    swapped = guarded.post("/", data={"text": COMPLAINT}, headers={"HX-Request": "true"})
    assert swapped.status_code == 204 and swapped.headers["hx-redirect"] == "/sign-in?next=/"
    form = guarded.get("/sign-in?next=/triages")
    assert form.status_code == 200
    assert 'name="key" type="password"' in form.text and 'value="/triages"' in form.text
    assert guarded.get("/sign-in?next=//elsewhere.example").text.count('value="/"') == 1


def test_signing_in_sets_a_strict_cookie_that_opens_the_pages(guarded: TestClient) -> None:
    wrong = guarded.post("/sign-in", data={"key": "ct_nope_nope", "next": "/triages"})
    assert wrong.status_code == 401 and "that key is not valid" in wrong.text
    key = _key(guarded, "triage", "feedback")
    signed = guarded.post("/sign-in", data={"key": key, "next": "/triages"})
    assert signed.status_code == 303 and signed.headers["location"] == "/triages"
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    triaged = guarded.post("/", data={"text": COMPLAINT})
    assert triaged.status_code == 200 and "Engineering" in triaged.text
    # The cookie opens the pages only: the JSON API still wants the key in a header.
    assert guarded.post("/v1/triage", json={"text": COMPLAINT}).status_code == 401
    out = guarded.post("/sign-out")
    assert out.status_code == 303 and 'ct_key=""' in out.headers["set-cookie"]


def test_a_key_without_feedback_scope_cannot_save_corrections(guarded: TestClient) -> None:
    guarded.post("/sign-in", data={"key": _key(guarded, "triage"), "next": "/"})
    api_key = {"X-API-Key": _key(guarded, "triage")}
    triage_id = guarded.post("/v1/triage", json={"text": COMPLAINT}, headers=api_key).json()[
        "triage_id"
    ]
    refused = guarded.post(f"/triages/{triage_id}/feedback", data={"departments": "finance"})
    assert refused.status_code == 403 and "lacks the &#39;feedback&#39; scope" in refused.text
    no_triage = guarded.post("/sign-in", data={"key": _key(guarded, "feedback"), "next": "/"})
    assert no_triage.status_code == 401 and "lacks the triage scope" in no_triage.text


def test_on_loopback_the_workspace_needs_no_sign_in(client: TestClient) -> None:
    assert client.get("/").status_code == 200
    assert client.get("/triages").status_code == 200
