"""Hypothesis properties of the triage service: any text within the limits gives a valid,
reproducible result. Derandomized: the same examples on every run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from classifier import registry
from classifier.api.app import create_app
from classifier.api.schemas import MAX_TEXT_CHARS
from classifier.case import CaseContext, Money
from classifier.catalogue import Catalogue
from classifier.document import triage_document
from classifier.settings import Settings
from classifier.triage import Classification, TriageResult, TriageService

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
# Pieces that move the model and the rules, and pieces that are hard on text handling.
PIECES = [
    "I was charged twice", "refund", "my parcel never arrived", "the app crashes",
    "I will see you in court", "£1,240.50", "EUR 2.300", "40k USD", "third time I call",
    "{{7*7}}", "{% raw %}", "<script>alert(1)</script>", "😡🤬", "👩‍👩‍👧", "שלום, הזמנה",
    "مرحبا", "e\u0301\u0301", "\u202eevil\u202c", "\u200b", "\x07\x1b[31m", "\r\n\t",
    "ﬁnance", "İstanbul", "ß", "\ufeff", "\U0010fffd", ".", "...", "?!",
]  # fmt: skip
ANY_CHARACTER = st.characters(exclude_categories=["Cs"])  # a lone surrogate is no str in JSON
TEXTS = st.lists(
    st.one_of(st.sampled_from(PIECES), st.text(ANY_CHARACTER, max_size=40)), min_size=1,
    max_size=30,
).map(" ".join).filter(str.strip)  # fmt: skip
LONG_TEXTS = st.builds(
    lambda piece, n: (piece + " ") * n, st.sampled_from(PIECES), st.integers(500, 2000)
).map(lambda t: t[:MAX_TEXT_CHARS])
# Context as the API lets it through: no NUL (a 422 there), lengths within the limits.
SHORT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=16)
CONTEXTS = st.builds(
    CaseContext,
    case_ref=st.one_of(st.none(), SHORT.filter(bool)),
    channel=st.one_of(st.none(), st.sampled_from(["email", "phone", "chat"]), SHORT),
    customer_name=st.one_of(st.none(), SHORT),
    tier=st.one_of(st.none(), st.sampled_from(["vip", "gold", "standard"]), SHORT),
    previous_contacts=st.integers(0, 1000),
    amount=st.one_of(
        st.none(),
        st.builds(Money, value=st.floats(0, 1e12), currency=st.sampled_from(["EUR", "GBP"])),
    ),
)
SETTINGS = settings(
    derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


def fixed(service: TriageService) -> TriageService:
    """The service with a stopped clock, so due dates repeat."""
    return TriageService(
        holder=service.holder, catalogue=service.catalogue, policy=service.policy,
        drafter=service.drafter, review_margin=service.review_margin,
        review_min_words=service.review_min_words, clock=lambda: NOW,
    )  # fmt: skip


def check_classification(c: Classification, text: str, catalogue: Catalogue) -> None:
    assert set(c.probabilities) == {*catalogue.ids, "escalate"}
    assert all(0.0 <= p <= 1.0 for p in c.probabilities.values()), c.probabilities
    ids = [d.id for d in c.departments]
    assert set(ids) <= set(catalogue.ids) and len(ids) == len(set(ids))
    for department in c.departments:
        assert 0.0 <= department.probability <= 1.0
        assert department.probability >= department.threshold
        assert department.name == catalogue.name(department.id)
        for quote in department.quotes:
            assert 0 <= quote.start <= quote.end <= len(text)
            assert text[quote.start : quote.end] == quote.text
    assert 0.0 <= c.escalation.probability <= 1.0
    for signal in c.escalation.signals:
        assert text[signal.start : signal.end] == signal.phrase
    assert c.needs_review == bool(c.review_reasons)


def check_drafts(result: TriageResult, text: str, catalogue: Catalogue) -> None:
    ids = [d.id for d in result.classification.departments]
    assert [h.department for h in result.handoffs] == ids
    for handoff in result.handoffs:
        assert handoff.subject.strip() and handoff.body.strip()
        assert result.case_ref in handoff.body
    message = result.customer_message
    assert message.subject.strip() and message.body.strip()
    assert result.case_ref in message.body
    for department in catalogue.ids:  # unless the customer wrote it
        if department not in text:
            assert department not in message.body and department not in message.subject


@given(text=st.one_of(TEXTS, LONG_TEXTS), context=CONTEXTS)
@settings(SETTINGS, max_examples=150)
def test_any_text_gives_a_valid_triage(
    service: TriageService, catalogue: Catalogue, text: str, context: CaseContext
) -> None:
    result = service.triage(text, context)
    check_classification(result.classification, text, catalogue)
    check_drafts(result, text, catalogue)
    assert result.case_ref == (context.case_ref or f"CT-{result.triage_id[:8].upper()}")
    if "{{7*7}}" in text and result.classification.departments:
        # complaint text is data, never a template
        assert "49" not in result.customer_message.body.replace(text, "")


def _without_ids(result: TriageResult, names: dict[str, str]) -> dict[str, Any]:
    document = triage_document(result, names)
    del document["triage_id"]
    for handoff in document["handoffs"]:
        del handoff["id"]
    return document


@given(text=TEXTS, context=CONTEXTS.filter(lambda c: c.case_ref is not None))
@settings(SETTINGS, max_examples=60)
def test_the_same_input_twice_gives_the_same_triage(
    service: TriageService, text: str, context: CaseContext
) -> None:
    stopped = fixed(service)
    first, second = stopped.triage(text, context), stopped.triage(text, context)
    assert first.triage_id != second.triage_id
    names = service.names()
    assert _without_ids(first, names) == _without_ids(second, names)


@given(texts=st.lists(TEXTS, min_size=2, max_size=6), context=CONTEXTS)
@settings(SETTINGS, max_examples=40)
def test_classify_many_is_valid_and_agrees_with_one_at_a_time(
    service: TriageService, catalogue: Catalogue, texts: list[str], context: CaseContext
) -> None:
    many = service.classify_many(texts, [context] * len(texts))
    assert len(many) == len(texts)
    for text, batch in zip(texts, many, strict=True):
        check_classification(batch, text, catalogue)
        alone = service.classify_many([text], [context])[0]
        assert [d.id for d in batch.departments] == [d.id for d in alone.departments]
        assert batch.escalation.escalate == alone.escalation.escalate
        for label, probability in alone.probabilities.items():
            assert abs(batch.probabilities[label] - probability) <= 1e-4
        assert [d.quotes for d in batch.departments] == [d.quotes for d in alone.departments]
    assert service.classify_many(texts, [context] * len(texts)) == many


# Anything a client can put in a JSON string: lone surrogates (as \\ud800 escapes), NUL,
# whitespace only, as well as the complaints above.
API_TEXTS = st.one_of(
    TEXTS,
    st.builds(
        lambda text, bad, at: text[: at % (len(text) + 1)] + bad + text[at % (len(text) + 1) :],
        TEXTS, st.sampled_from(["\x00", "\ud800", "\udfff", "\x00\ud83d"]), st.integers(0, 999),
    ),
    st.text(st.sampled_from(" \t\n\r\x0b\x0c\x85\xa0\u2003\u2028\u3000"), min_size=1),
    st.text(st.characters(), max_size=30),
)  # fmt: skip
STABLE = ("departments", "probabilities", "escalation", "needs_review", "review_reasons",
          "language", "summary")  # fmt: skip


@pytest.fixture(scope="module")
def api(
    tmp_path_factory: pytest.TempPathFactory,
    project_settings: Settings,
    tiny_loaded: registry.LoadedModel,
) -> Iterator[TestClient]:
    """One app for every example; a rate limit would stop a burst like this one."""
    database = tmp_path_factory.mktemp("properties") / "triage.db"
    configured = project_settings.model_copy(
        update={"database_url": f"sqlite:///{database}", "rate_limit": "1000000/second"}
    )
    with TestClient(create_app(configured, model=tiny_loaded)) as client:
        yield client


@given(text=API_TEXTS)
@settings(SETTINGS, max_examples=60)
def test_the_api_answers_any_text_as_its_limits_say(
    api: TestClient, catalogue: Catalogue, text: str
) -> None:
    body = json.dumps({"text": text, "case_ref": "CRM-1"}).encode()  # ASCII, escapes and all
    answers = [
        api.post("/v1/triage", content=body, headers={"content-type": "application/json"})
        for _ in range(2)
    ]
    response = answers[0]
    event(f"{response.status_code} {response.json().get('detail', '')[:30]}")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        assert response.status_code == 422 and "unicode" in response.json()["detail"]
    elif "\x00" in text:
        assert response.status_code == 422 and "NUL" in response.json()["detail"]
    elif not text.strip():
        assert response.status_code == 422 and "not only whitespace" in response.json()["detail"]
    else:
        assert response.status_code == 200, response.text
        document = response.json()
        assert set(document["probabilities"]) == {*catalogue.ids, "escalate"}
        assert all(0 <= p <= 1 for p in document["probabilities"].values())
        ids = [d["id"] for d in document["departments"]]
        assert set(ids) <= set(catalogue.ids)
        assert [h["department"] for h in document["handoffs"]] == ids
        for department in document["departments"]:
            assert all(text[q["start"] : q["end"]] == q["text"] for q in department["quotes"])
        assert all(h["subject"].strip() and h["body"].strip() for h in document["handoffs"])
        message = document["customer_message"]["body"]
        assert "CRM-1" in message
        assert not [d for d in catalogue.ids if d in message and d not in text]
        again = answers[1].json()
        assert {k: again[k] for k in STABLE} == {k: document[k] for k in STABLE}
        return
    assert response.headers["content-type"] == "application/problem+json"
    assert answers[1].json() == response.json()
