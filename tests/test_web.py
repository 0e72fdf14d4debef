"""The agents' workspace pages through the ASGI app: triage form, results, marks."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from webpage import ANGRY, COMPLAINT, HTMX, Page, fragment, store_of, triage_id_of

from classifier.settings import PROJECT_ROOT, Settings
from classifier.web.highlight import Span, runs, spans_of


def test_form_page_has_every_control_labelled_and_loads_only_local_files(
    client: TestClient,
) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = Page(response.text)
    assert {"text", "case_ref", "tier", "previous_contacts", "amount", "currency"} <= {
        str(c.get("id")) for c in page.controls
    }
    assert page.unlabelled() == []
    assert page.scripts == ["/static/htmx.min.js", "/static/app.js"]
    assert page.links == ["data:,", "/static/app.css"]  # an empty icon: no favicon request
    assert "//" not in "".join(page.scripts + page.links), "nothing from another host"
    assert 'hx-post="/"' in response.text and 'method="post" action="/"' in response.text
    assert 'id="results"' in response.text and "<article" not in response.text


def test_static_files_are_served_with_htmx_2_vendored(client: TestClient) -> None:
    htmx = client.get("/static/htmx.min.js")
    assert htmx.status_code == 200 and "javascript" in htmx.headers["content-type"]
    assert 'version:"2.0.' in htmx.text
    assert client.get("/static/app.css").headers["content-type"].startswith("text/css")
    assert "clipboard" in client.get("/static/app.js").text
    readme = (PROJECT_ROOT / "classifier" / "web" / "static" / "README").read_text()
    assert "htmx.org 2.0." in readme and "0BSD" in readme
    assert client.get("/static/../__init__.py").status_code == 404


# -- triage: without JavaScript and with htmx -------------------------------------------------
def test_plain_post_returns_the_whole_page_with_results(client: TestClient) -> None:
    response = client.post(
        "/", data={"text": COMPLAINT, "case_ref": "WEB-9", "tier": "vip", "amount": "89,99"}
    )
    assert response.status_code == 200
    text = response.text
    assert text.startswith("<!doctype html>") and '<form id="triage-form"' in text
    assert "Results for WEB-9" in text and 'data-department="finance"' in text
    # the form keeps what was typed
    page = Page(text)
    assert page.control("case_ref")["value"] == "WEB-9"
    assert page.control("amount")["value"] == "89,99"
    stored = store_of(client).triage(triage_id_of(text))
    assert stored.case_ref == "WEB-9"
    assert stored.context["tier"] == "vip"
    assert stored.context["amount"] == {"value": 89.99, "currency": "EUR"}


def test_htmx_post_returns_only_the_results_fragment(client: TestClient) -> None:
    text, page = fragment(client, COMPLAINT, case_ref="WEB-10")
    assert "<html" not in text and '<form id="triage-form"' not in text
    assert text.lstrip().startswith('<article class="results"')
    assert "Results for WEB-10" in text
    stored = store_of(client).triage(triage_id_of(text))
    for department in stored.result["departments"]:
        assert f'data-department="{department["id"]}"' in text
        # the bar shows the probability and the threshold it had to clear
        threshold = f"threshold {100 * department['threshold']:.0f}%"
        assert threshold in text
        assert f"left: {round(100 * department['threshold'], 1)}%" in text
    for handoff in stored.handoffs:
        subject = page.control(f"h-{handoff.id}-subject")
        assert subject["value"] == handoff.subject
        assert f'action="/handoffs/{handoff.id}/sent"' in text
    assert (
        page.control(f"cm-{stored.id}-subject")["value"]
        == stored.result["customer_message"]["subject"]
    )
    assert page.unlabelled() == []
    assert len(page.ids) == len(set(page.ids)), "element ids are unique"


def test_escalation_badge_reasons_and_marks_at_the_evidence_offsets(client: TestClient) -> None:
    text, page = fragment(client)
    stored = store_of(client).triage(triage_id_of(text))
    escalation = stored.result["escalation"]
    assert escalation["escalate"] is True
    assert '<span class="badge escalate" id="escalation-badge">Escalate</span>' in text
    for reason in escalation["reasons"]:
        assert str(escape(reason)) in text
    # every mark holds exactly the text at its offsets
    assert page.marks
    for mark in page.marks:
        assert ANGRY[int(mark["data-start"]) : int(mark["data-end"])] == mark["text"]
    marked = {i for m in page.marks for i in range(int(m["data-start"]), int(m["data-end"]))}
    for department in stored.result["departments"]:
        for quote in department["quotes"]:
            assert set(range(quote["start"], quote["end"])) <= marked
    signal_marks = [m for m in page.marks if m.get("class") == "signal"]
    for signal in escalation["signals"]:
        (mark,) = [m for m in signal_marks if int(m["data-start"]) == signal["start"]]
        assert int(mark["data-end"]) == signal["end"] and mark["text"] == signal["phrase"]
        assert signal["reason"] in mark["title"]
    assert {"take you to court", "third email"} <= {m["text"] for m in signal_marks}


def test_needs_review_banner_lists_the_reasons(client: TestClient) -> None:
    text, _ = fragment(client, "Bad.")
    stored = store_of(client).triage(triage_id_of(text))
    assert stored.needs_review
    assert 'id="review"' in text and "Needs review" in text
    for reason in stored.result["review_reasons"]:
        assert f"<li>{escape(reason)}</li>" in text


def test_complaint_markup_is_shown_as_text(client: TestClient) -> None:
    hostile = ANGRY + ' <script>alert("x")</script><img src=x onerror=alert(1)>'
    for response in (
        client.post("/", data={"text": hostile}),
        client.post("/", data={"text": hostile}, headers=HTMX),
    ):
        assert response.status_code == 200
        assert "<script>alert" not in response.text and "<img src=x" not in response.text
        assert "&lt;script&gt;alert(" in response.text
        assert "&lt;img src=x onerror=alert(1)&gt;" in response.text
    page = client.get(f"/triages/{triage_id_of(response.text)}").text
    assert "<script>alert" not in page and "&lt;script&gt;alert(" in page


def test_blank_text_is_a_422_page_saying_what_to_correct(client: TestClient) -> None:
    response = client.post("/", data={"text": "   "})
    assert response.status_code == 422
    assert response.text.startswith("<!doctype html>") and "Please correct" in response.text
    assert "Complaint text: must contain the complaint" in response.text
    assert "<article" not in response.text
    swapped = client.post("/", data={"text": ""}, headers=HTMX)
    assert swapped.status_code == 422 and "<html" not in swapped.text
    assert 'role="alert"' in swapped.text and "Complaint text" in swapped.text


def test_bad_numbers_are_reported_not_raised(client: TestClient) -> None:
    response = client.post(
        "/", data={"text": COMPLAINT, "previous_contacts": "two", "amount": "lots"}
    )
    assert response.status_code == 422
    assert "Previous contacts: must be a whole number" in response.text
    assert "Amount: must be a number" in response.text
    negative = client.post("/", data={"text": COMPLAINT, "amount": "-5", "currency": "EURO"})
    assert negative.status_code == 422
    assert "Amount: Input should be greater than or equal to 0" in negative.text
    assert "Currency: String should have at most 3 characters" in negative.text
    assert Page(response.text).control("text").get("id") == "text"
    assert "I was charged twice for order 558120" in response.text


# -- corrections ------------------------------------------------------------------------------


def test_no_model_is_an_html_503_not_a_traceback(settings: Settings) -> None:
    from classifier.api.app import create_app

    with TestClient(create_app(settings)) as no_model:
        response = no_model.post("/", data={"text": COMPLAINT})
    assert response.status_code == 503 and "No model is ready" in response.text
    assert response.headers["content-type"].startswith("text/html")


# -- the marks, cut from the spans ------------------------------------------------------------
def test_runs_cover_the_text_once_and_never_nest() -> None:
    text = "abcdefghij"
    spans = [Span(0, 6, "Finance"), Span(2, 8, "Sales"), Span(4, 5, "court", signal=True),
             Span(7, 99, "out of range"), Span(3, 3, "empty")]  # fmt: skip
    cut = runs(text, spans)
    assert "".join(r.text for r in cut) == text
    assert [(r.start, r.end) for r in cut] == [(0, 2), (2, 4), (4, 5), (5, 6), (6, 8), (8, 10)]
    assert cut[0].departments == ("Finance",) and cut[1].departments == ("Finance", "Sales")
    assert cut[2].signals == ("court",) and cut[2].title == "Finance; Sales; escalation: court"
    assert not cut[5].marked
    assert runs("", spans) == []


def test_spans_come_from_the_document_quotes_and_signals() -> None:
    document = {
        "departments": [{"name": "Finance", "quotes": [{"text": "x", "start": 0, "end": 1}]}],
        "escalation": {"signals": [{"reason": "legal", "phrase": "y", "start": 2, "end": 3}]},
    }
    assert spans_of(document) == [Span(0, 1, "Finance"), Span(2, 3, "legal", signal=True)]
    assert spans_of({}) == []


@pytest.mark.parametrize("path", ["/", "/triages"])
def test_pages_reference_no_other_host(client: TestClient, path: str) -> None:
    response: httpx.Response = client.get(path)
    assert response.status_code == 200
    assert not re.search(r'(src|href)="(https?:)?//', response.text)
