"""The workspace's casework: corrections, handoffs sent and acknowledged, the triage list."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from webpage import ANGRY, COMPLAINT, HTMX, Page, fragment, store_of, triage_id_of

from classifier.catalogue import DEPARTMENT_IDS
from classifier.settings import Settings
from classifier.store import Correction, NewHandoff


def test_checkboxes_start_from_the_prediction_with_a_fresh_key(client: TestClient) -> None:
    text, page = fragment(client)
    stored = store_of(client).triage(triage_id_of(text))
    boxes = {
        str(c["value"]): "checked" in c for c in page.controls if c.get("name") == "departments"
    }
    assert list(boxes) == list(DEPARTMENT_IDS)
    assert {d for d, ticked in boxes.items() if ticked} == set(stored.departments)
    assert "checked" in page.control(f"fix-{stored.id}-escalate")
    keys = re.findall(r'name="key" value="([^"]+)"', text)
    assert len(keys) == 1 and uuid.UUID(keys[0]).version == 4
    again, _ = fragment(client)
    assert re.findall(r'name="key" value="([^"]+)"', again) != keys


def correction_form(text: str) -> tuple[str, str]:
    triage_id = triage_id_of(text)
    (key,) = re.findall(r'name="key" value="([^"]+)"', text)
    return triage_id, key


def test_saving_a_correction_stores_it_once_and_says_so(client: TestClient) -> None:
    text, _ = fragment(client)
    triage_id, key = correction_form(text)
    data = {"departments": ["finance", "engineering_qc"], "author": "Ana", "comment": "motor",
            "key": key}  # fmt: skip
    first = client.post(f"/triages/{triage_id}/feedback", data=data, headers=HTMX)
    assert first.status_code == 200
    assert "<html" not in first.text and 'id="corrections"' in first.text
    assert "<strong>Saved.</strong>" in first.text
    assert "Correction #1: Engineering &amp; Quality, Finance; no escalation; by Ana" in first.text
    # the double click: same key, same body
    second = client.post(f"/triages/{triage_id}/feedback", data=data, headers=HTMX)
    assert second.status_code == 200 and "<strong>Already saved.</strong>" in second.text
    (feedback,) = store_of(client).triage(triage_id).feedback
    assert feedback.departments == ("engineering_qc", "finance")
    assert feedback.escalate is False and feedback.author == "Ana"
    assert feedback.comment == "motor" and feedback.idempotency_key == key
    # the form comes back with the saved choices and a new key for the next correction
    page = Page(first.text)
    assert "checked" in page.control(f"fix-{triage_id}-engineering_qc")
    assert "checked" not in page.control(f"fix-{triage_id}-escalate")
    assert key not in first.text
    assert "Corrections stored so far" in first.text


def test_correction_without_javascript_redirects_to_the_triage_page(client: TestClient) -> None:
    text, _ = fragment(client)
    triage_id, key = correction_form(text)
    response = client.post(
        f"/triages/{triage_id}/feedback",
        data={"departments": ["sales"], "escalate": "on", "key": key},
        follow_redirects=False,
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(f"/triages/{triage_id}?saved=")
    page = client.get(location)
    assert page.status_code == 200 and "<strong>Saved.</strong>" in page.text
    (feedback,) = store_of(client).triage(triage_id).feedback
    assert feedback.departments == ("sales",) and feedback.escalate is True
    assert feedback.author == "agent"


def test_invalid_correction_is_422_and_stores_nothing(client: TestClient) -> None:
    text, _ = fragment(client)
    triage_id, key = correction_form(text)
    response = client.post(
        f"/triages/{triage_id}/feedback",
        data={"departments": ["senior_management"], "key": key},
        headers=HTMX,
    )
    assert response.status_code == 422 and "Not saved" in response.text
    assert "must be true when senior_management is a department" in response.text
    assert store_of(client).triage(triage_id).feedback == ()
    missing = client.post("/triages/nope/feedback", data={"key": key})
    assert missing.status_code == 404 and "There is no triage" in missing.text


def test_reused_key_with_other_choices_is_409_with_a_fresh_form(client: TestClient) -> None:
    text, _ = fragment(client)
    triage_id, key = correction_form(text)
    url = f"/triages/{triage_id}/feedback"
    client.post(url, data={"departments": ["finance"], "key": key}, headers=HTMX)
    response = client.post(url, data={"departments": ["sales"], "key": key}, headers=HTMX)
    assert response.status_code == 409 and "already saved with other choices" in response.text
    assert key not in response.text
    assert len(store_of(client).triage(triage_id).feedback) == 1


# -- handoffs ---------------------------------------------------------------------------------
def test_mark_as_sent_keeps_the_edited_note_and_shows_the_status(client: TestClient) -> None:
    text, _ = fragment(client)
    handoff = store_of(client).triage(triage_id_of(text)).handoffs[0]
    response = client.post(
        f"/handoffs/{handoff.id}/sent",
        data={"subject": "Edited subject", "body": "Edited body", "author": "Ana"},
        headers=HTMX,
    )
    assert response.status_code == 200 and "<html" not in response.text
    assert f'id="handoff-{handoff.id}-state" data-status="sent"' in response.text
    assert "Sent by Ana" in response.text and "Marked as sent." in response.text
    stored = store_of(client).handoff(handoff.id)
    assert (stored.status, stored.sent_by) == ("sent", "Ana")
    assert (stored.subject, stored.body) == ("Edited subject", "Edited body")
    plain = client.post(f"/handoffs/{handoff.id}/sent", data={}, follow_redirects=False)
    assert plain.status_code == 303
    assert plain.headers["location"] == f"/triages/{handoff.triage_id}#handoff-{handoff.id}"
    assert store_of(client).handoff(handoff.id).subject == "Edited subject"
    assert client.post("/handoffs/nope/sent", data={}).status_code == 404


def test_acknowledgement_needs_a_name_and_is_recorded_once(client: TestClient) -> None:
    text, _ = fragment(client)
    handoff = store_of(client).triage(triage_id_of(text)).handoffs[0]
    url = f"/handoffs/{handoff.id}/ack"
    blank = client.post(url, data={"by": " "}, headers=HTMX)
    assert blank.status_code == 422 and "Name:" in blank.text
    assert store_of(client).handoff(handoff.id).status == "drafted"
    done = client.post(url, data={"by": "Bob", "note": "on it"}, headers=HTMX)
    assert done.status_code == 200 and 'data-status="acknowledged"' in done.text
    assert "Acknowledged by Bob" in done.text and "“on it”" in done.text
    # the status in the results header is swapped too, out of band
    assert f'<li id="glance-{handoff.id}" hx-swap-oob="true">' in done.text
    assert f'action="/handoffs/{handoff.id}/ack"' not in done.text
    again = client.post(url, data={"by": "Carl"}, headers=HTMX)
    assert "It was acknowledged before." in again.text and "Acknowledged by Bob" in again.text
    stored = store_of(client).handoff(handoff.id)
    assert (stored.status, stored.acknowledged_by, stored.acknowledgement_note) == (
        "acknowledged", "Bob", "on it",
    )  # fmt: skip


# -- /triages and /triages/{id} ---------------------------------------------------------------
def test_triage_list_filters(client: TestClient) -> None:
    angry = triage_id_of(fragment(client, ANGRY, case_ref="ANGRY-1")[0])
    calm = triage_id_of(fragment(client, COMPLAINT, case_ref="CALM-1")[0])
    short = triage_id_of(fragment(client, "Bad.", case_ref="SHORT-1")[0])
    store = store_of(client)
    for handoff in store.triage(calm).handoffs:
        store.acknowledge(handoff.id, by="Bob", now=datetime.now(UTC))

    def listed(**query: str) -> list[str]:
        response = client.get("/triages", params=query)
        assert response.status_code == 200
        return re.findall(r'<li class="card" data-triage-id="([^"]+)"', response.text)

    assert listed() == [short, calm, angry]  # newest first
    assert listed(escalated="yes") == [angry]
    assert angry not in listed(escalated="no")
    assert short in listed(needs_review="yes") and angry not in listed(needs_review="yes")
    assert calm not in listed(unacknowledged="yes") and angry in listed(unacknowledged="yes")
    assert calm in listed(unacknowledged="no") and angry not in listed(unacknowledged="no")
    finance = listed(department="finance")
    assert angry in finance and calm in finance and short not in finance
    page = client.get("/triages", params={"department": "finance", "escalated": "yes"}).text
    assert '<option value="finance" selected>' in page
    assert f'<a href="/triages/{angry}">ANGRY-1</a>' in page
    assert Page(page).unlabelled() == []
    odd = client.get("/triages", params={"department": "nope"})
    assert odd.status_code == 200 and "unknown id" in odd.text


def test_triage_page_shows_statuses_overdue_and_corrections(
    client: TestClient, settings: Settings
) -> None:
    store = store_of(client)
    now = datetime.now(UTC)
    text, _ = fragment(client, ANGRY, case_ref="PAGE-1")
    triage_id = triage_id_of(text)
    first, *_ = store.triage(triage_id).handoffs
    store.mark_sent(first.id, by="Ana", now=now)
    store.add_feedback(
        triage_id,
        Correction(("finance",), True, "Ana", comment="checked"),
        now=now,
    )
    # a stored triage whose handoff is past its due time
    late = store.save_triage(
        triage_id=str(uuid.uuid4()), case_ref="LATE-1", created=now - timedelta(days=3),
        model_version="test-tiny", text=ANGRY, context={}, result=store.triage(triage_id).result,
        escalate=True, needs_review=False,
        handoffs=[NewHandoff(str(uuid.uuid4()), "finance", "s", "b", now - timedelta(hours=1))],
    )  # fmt: skip
    page = client.get(f"/triages/{triage_id}")
    assert page.status_code == 200 and page.text.startswith("<!doctype html>")
    assert "Triage PAGE-1" in page.text
    assert f'<li id="glance-{first.id}"><a href="#handoff-{first.id}">' in page.text
    assert '<span class="status status-sent">sent</span>' in page.text
    assert "Sent by Ana" in page.text
    assert "Corrections stored so far" in page.text and "“checked”" in page.text
    assert "ticked as last corrected" in page.text
    assert html.escape("take you to court") in page.text and "<mark" in page.text
    assert Page(page.text).unlabelled() == []
    overdue = client.get(f"/triages/{late.id}").text
    assert '<span class="badge overdue">overdue</span>' in overdue
    listing = client.get("/triages").text
    assert "1 overdue" in listing
    missing = client.get("/triages/does-not-exist")
    assert missing.status_code == 404 and "There is no triage" in missing.text


@pytest.mark.parametrize(
    ("action", "form"), [("sent", {"author": "ana"}), ("ack", {"by": "fin"}), ("ack", {"by": ""})]
)
def test_an_unknown_handoff_is_an_html_404(
    client: TestClient, action: str, form: dict[str, str]
) -> None:
    response = client.post(f"/handoffs/no-such-id/{action}", data=form, headers=HTMX)
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "There is no handoff with id no-such-id." in response.text
