"""Stored triages, corrections and handoff edits are masked (SQLite and PostgreSQL); the
caller's response is not, and `mask_stored_text=False` stores the original."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from webpage import HTMX, Page, store_of

from classifier import registry
from classifier.api.app import create_app
from classifier.casework import NewHandoff
from classifier.data import Record
from classifier.feedback import feedback_records
from classifier.masking import StoredMasking
from classifier.redact import Redactor, mask
from classifier.settings import Settings
from classifier.store import Correction, Store, StoredTriage
from classifier.web.highlight import runs, spans_of

TEXT = (
    "I was charged twice for order 558120 on my card 4111 1111 1111 1111 and I want a refund "
    "now. Call me on +44 7700 900123 or write to ana.garcia@example.com, or pay it back to "
    "GB82 WEST 1234 5698 7654 32. I will take you to court."
)
# The values and every digit group of them that could be copied into a draft on its own.
SECRETS = [
    "4111 1111 1111 1111", "+44 7700 900123", "ana.garcia@example.com",
    "GB82 WEST 1234 5698 7654 32", "4111", "1111", "7700", "900123", "GB82", "1234", "5698",
    "7654", "ana.garcia",
]  # fmt: skip
OWN_ADDRESS = "finance-desk@company.example"  # the catalogue's, in every Finance handoff


def _client(
    settings: Settings, database_url: str, model: registry.LoadedModel, masked: bool
) -> TestClient:
    update = {"database_url": database_url, "mask_stored_text": masked}
    return TestClient(create_app(settings.model_copy(update=update), model=model))


@pytest.fixture
def masked_client(
    settings: Settings, database_url: str, tiny_loaded: registry.LoadedModel
) -> Iterator[TestClient]:
    with _client(settings, database_url, tiny_loaded, masked=True) as client:
        yield client


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _stored_strings(stored: StoredTriage) -> list[str]:
    handoffs = [s for h in stored.handoffs for s in (h.subject, h.body, h.acknowledgement_note)]
    feedback = [
        s for f in stored.feedback for s in _strings([f.comment, f.handoffs, f.customer_message])
    ]
    return [stored.text, *_strings(stored.context), *_strings(stored.result), *handoffs, *feedback]


def _leaks(stored: StoredTriage) -> list[str]:
    """Secrets found in anything stored, as whole words (so "1234" inside "CRM-1234" or an
    id does not count)."""
    everything = "\n".join(s for s in _stored_strings(stored) if s)
    return [s for s in SECRETS if re.search(rf"(?<![\w.-]){re.escape(s)}(?![\w])", everything)]


def _triage(client: TestClient, text: str = TEXT) -> tuple[dict[str, Any], StoredTriage]:
    body = {"text": text, "case_ref": "CRM-1234", "customer": {"name": "Ana"}}
    response = client.post("/v1/triage", json=body)
    assert response.status_code == 200, response.text
    body = response.json()
    return body, store_of(client).triage(body["triage_id"])


def test_a_stored_triage_is_masked_everywhere_and_the_response_is_not(
    masked_client: TestClient,
) -> None:
    body, stored = _triage(masked_client)
    assert stored.text == mask(TEXT) and len(stored.text) == len(TEXT)
    assert "[card*************]" in stored.text and "[email" in stored.text
    assert _leaks(stored) == []
    # the caller gets back what it sent, drafted in full
    assert "+44 7700 900123" in body["handoffs"][0]["body"]
    assert "4111 1111 1111 1111" in json.dumps(body["departments"])
    # the organisation's own address in the drafts is nobody's personal data
    finance = [h for h in stored.handoffs if h.department == "finance"]
    assert finance and OWN_ADDRESS in finance[0].body
    # the IBAN's "1234" is no secret in the case reference
    assert stored.case_ref == "CRM-1234" and "CRM-1234:" in finance[0].subject


def test_stored_quotes_point_at_the_masked_words_they_quote(masked_client: TestClient) -> None:
    _, stored = _triage(masked_client)
    quotes = [q for d in stored.result["departments"] for q in d["quotes"]]
    signals = stored.result["escalation"]["signals"]
    assert quotes and signals
    assert any("[card" in q["text"] or "[phone" in q["text"] for q in quotes)
    for quote in quotes:
        assert stored.text[quote["start"] : quote["end"]] == quote["text"]
    for signal in signals:
        assert stored.text[signal["start"] : signal["end"]] == signal["phrase"]
    # the highlighted runs cover exactly the stored text, and a masked card sits in a mark
    cut = runs(stored.text, spans_of(stored.result))
    assert "".join(r.text for r in cut) == stored.text
    assert any(r.marked and "[card" in r.text for r in cut)


def test_the_stored_triage_page_marks_the_masked_quotes(masked_client: TestClient) -> None:
    _, stored = _triage(masked_client)
    page = masked_client.get(f"/triages/{stored.id}")
    assert page.status_code == 200
    assert "4111 1111" not in page.text and "ana.garcia" not in page.text
    marks = Page(page.text).marks
    assert any("[card" in m["text"] for m in marks)
    for mark in marks:
        assert stored.text[int(mark["data-start"]) : int(mark["data-end"])] == mark["text"]


def test_with_masking_off_the_original_is_stored(
    settings: Settings, database_url: str, tiny_loaded: registry.LoadedModel
) -> None:
    with _client(settings, database_url, tiny_loaded, masked=False) as client:
        body, stored = _triage(client)
        assert stored.text == TEXT
        assert stored.handoffs[0].body == body["handoffs"][0]["body"]
        assert "ana.garcia@example.com" in json.dumps(stored.result)
        assert set(_leaks(stored)) == set(SECRETS)  # the leak check sees what it looks for
        feedback = client.post("/v1/feedback", json=_correction(body["triage_id"]))
        assert feedback.status_code == 201
        stored = store_of(client).triage(body["triage_id"])
        assert stored.feedback[0].comment == "Customer says: call +44 7700 900123 after 5pm"


def _correction(triage_id: str) -> dict[str, Any]:
    return {
        "triage_id": triage_id,
        "departments": ["finance"],
        "escalate": True,
        "author": "agent-7",
        "comment": "Customer says: call +44 7700 900123 after 5pm",
        "handoffs": {
            "finance": {
                "subject": "Refund to GB82 WEST 1234 5698 7654 32",
                "body": "See card 4111 1111 1111 1111; write to ana.garcia@example.com",
            },
        },  # fmt: skip
        "customer_message": {"subject": "Your refund", "body": "We will call +44 7700 900123."},
    }


def test_feedback_comment_and_edited_drafts_are_stored_masked(masked_client: TestClient) -> None:
    body, _ = _triage(masked_client)
    response = masked_client.post("/v1/feedback", json=_correction(body["triage_id"]))
    assert response.status_code == 201
    stored = store_of(masked_client).triage(body["triage_id"])
    (feedback,) = stored.feedback
    assert feedback.comment == "Customer says: call [phone********] after 5pm"
    assert feedback.handoffs == {
        "finance": {
            "subject": "Refund to [iban*********************]",
            "body": "See card [card*************]; write to [email***************]",
        }
    }
    assert feedback.customer_message == {
        "subject": "Your refund",
        "body": "We will call [phone********].",
    }
    assert feedback.author == "agent-7" and _leaks(stored) == []
    # a retry with the same key and body is still recognised as the same correction
    key = {"Idempotency-Key": "fb-1"}
    first = masked_client.post("/v1/feedback", json=_correction(body["triage_id"]), headers=key)
    again = masked_client.post("/v1/feedback", json=_correction(body["triage_id"]), headers=key)
    assert (first.status_code, again.status_code) == (201, 200)


def test_the_web_correction_form_stores_the_comment_masked(client: TestClient) -> None:
    _, stored = _triage(client)
    key = re.findall(r'name="key" value="([^"]+)"', client.get(f"/triages/{stored.id}").text)[0]
    data = {"departments": ["finance"], "author": "Ana", "key": key,
            "comment": "her mobile is 07700 900 655"}  # fmt: skip
    assert client.post(f"/triages/{stored.id}/feedback", data=data, headers=HTMX).status_code == 200
    (feedback,) = store_of(client).triage(stored.id).feedback
    assert feedback.comment == "her mobile is [phone******]"


def test_handoff_edits_and_acknowledgement_notes_are_stored_masked(
    masked_client: TestClient,
) -> None:
    _, stored = _triage(masked_client)
    handoff = stored.handoffs[0]
    sent = masked_client.post(
        f"/v1/handoffs/{handoff.id}/sent",
        json={
            "by": "agent-7",
            "subject": "Call +44 7700 900123",
            "body": "Card 4111 1111 1111 1111",
        },
    )
    assert sent.status_code == 200
    ack = masked_client.post(
        f"/v1/handoffs/{handoff.id}/ack",
        json={"by": "fin", "note": "emailed ana.garcia@example.com"},
    )
    assert ack.status_code == 201
    again = store_of(masked_client).handoff(handoff.id)
    assert (again.subject, again.body) == ("Call [phone********]", "Card [card*************]")
    assert again.acknowledgement_note == "emailed [email***************]"


def test_the_web_handoff_forms_store_edits_and_notes_masked(client: TestClient) -> None:
    _, stored = _triage(client)
    handoff = stored.handoffs[0]
    data = {"subject": "s", "body": "ring 07700 900 655", "author": "Ana"}
    assert client.post(f"/handoffs/{handoff.id}/sent", data=data, headers=HTMX).status_code == 200
    note = {"by": "Bob", "note": "wrote to ana.garcia@example.com"}
    assert client.post(f"/handoffs/{handoff.id}/ack", data=note, headers=HTMX).status_code == 200
    again = store_of(client).handoff(handoff.id)
    assert again.body == "ring [phone******]"
    assert again.acknowledgement_note == "wrote to [email***************]"


def test_digit_group_terms_and_values_cut_off_by_an_ellipsis_are_masked() -> None:
    text = (
        "Call me on 07700 900123 or mail lucy.marchant@example.com about order 558120, "
        "refund GB82 WEST 1234 5698 7654 32."
    )
    document = {
        "summary": "Call me on 07700 9…",
        "departments": [{"evidence": ["07700", "order", "gb82"], "quotes": []}],
        "customer_message": {"body": 'You wrote: "…or mail lucy.march…" and "I c…"'},
    }
    body = "Points to you: “07700”, “order”, “gb82”.\nReferences quoted: 558120\nDue 2026"
    handoff = NewHandoff("h", "finance", "[NORMAL] CRM-1234: Finance by 25 Nov 2026", body,
                         datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
    masked = StoredMasking(Redactor()).triage(text, {"name": "Lucy"}, document, [handoff])
    assert masked.document["summary"] == "Call me on [phone]…"
    assert masked.document["departments"][0]["evidence"] == ["*****", "order", "****"]
    assert (
        masked.document["customer_message"]["body"]
        == 'You wrote: "…or mail [email***]…" and "I c…"'
    )
    assert masked.handoffs[0].body == (
        "Points to you: “*****”, “order”, “****”.\nReferences quoted: 558120\nDue 2026"
    )
    # the IBAN's 1234 and a year are no secret elsewhere: the case reference stays whole
    assert masked.handoffs[0].subject == "[NORMAL] CRM-1234: Finance by 25 Nov 2026"
    assert masked.context == {"name": "Lucy"}


def test_a_triage_without_personal_data_is_stored_as_it_is() -> None:
    document = {"summary": "Order 558120 came late.", "handoffs": []}
    masked = StoredMasking(Redactor()).triage("Order 558120 came late.", {}, document, [])
    assert masked.document is document and masked.text == "Order 558120 came late."


def test_a_corrected_test_complaint_is_still_left_out_of_training_when_stored_masked(
    store: Store,
) -> None:
    """The frozen test set holds the original; the store holds it masked."""
    text = "Refund me now. My login email is j.adebayo@example.com and I was charged twice."
    now = datetime(2026, 1, 1, tzinfo=UTC)
    store.save_triage(
        triage_id="t-1", case_ref="CRM-1", created=now, model_version="v", text=mask(text),
        context={}, result={}, escalate=False, needs_review=False, handoffs=[],
    )  # fmt: skip
    store.add_feedback("t-1", Correction(("finance",), False, "agent"), now=now)
    test = [Record("test-1", text, ("finance",), False)]
    found = feedback_records(store, test)
    assert (found.records, found.in_test_set) == ([], 1)
