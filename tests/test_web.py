"""The agents' workspace through TestClient: what the pages and htmx fragments contain, and
what the store holds after the forms are used."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from classifier.catalogue import DEPARTMENT_IDS
from classifier.settings import PROJECT_ROOT, Settings
from classifier.store import Correction, NewHandoff, Store
from classifier.web.highlight import Span, runs, spans_of

HTMX = {"HX-Request": "true"}
COMPLAINT = (
    "I was charged twice for order 558120 and I want a refund of the second payment of "
    "£89.99 to my card. Please sort this out."
)
ANGRY = (
    "I was charged twice for order 558120 and the blender arrived broken, the motor smokes. "
    "I want a refund of the second payment now or I will take you to court. "
    "This is my third email."
)


class Page(HTMLParser):
    """The controls, labels, marks and ids of a page, read the way a browser reads them."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.ids: list[str] = []
        self.marks: list[dict[str, Any]] = []
        self.scripts: list[str] = []
        self.links: list[str] = []
        self._mark: dict[str, Any] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.append(str(attributes["id"]))
        if tag in ("input", "select", "textarea") and attributes.get("type") != "hidden":
            self.controls.append({"tag": tag, **attributes})
        elif tag == "label" and attributes.get("for"):
            self.label_for.add(str(attributes["for"]))
        elif tag == "mark" and "data-start" in attributes:  # not the legend
            self._mark = {**attributes, "text": ""}
        elif tag == "script":
            self.scripts.append(str(attributes.get("src")))
        elif tag == "link":
            self.links.append(str(attributes.get("href")))

    def handle_data(self, data: str) -> None:
        if self._mark is not None:
            self._mark["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "mark" and self._mark is not None:
            self.marks.append(self._mark)
            self._mark = None

    def control(self, control_id: str) -> dict[str, str | None]:
        (found,) = [c for c in self.controls if c.get("id") == control_id]
        return found

    def unlabelled(self) -> list[str]:
        return [
            str(c.get("id") or c.get("name"))
            for c in self.controls
            if c.get("id") not in self.label_for and not c.get("aria-label")
        ]


def triage_id_of(page: str) -> str:
    match = re.search(r'data-triage-id="([0-9a-f-]{36})"', page)
    assert match, "no triage on the page"
    return match.group(1)


def store_of(client: TestClient) -> Store:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    return store


def fragment(client: TestClient, text: str = ANGRY, **fields: str) -> tuple[str, Page]:
    response = client.post("/", data={"text": text, **fields}, headers=HTMX)
    assert response.status_code == 200, response.text
    return response.text, Page(response.text)


# -- the form and the static files ------------------------------------------------------------
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
