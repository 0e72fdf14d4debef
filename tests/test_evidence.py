"""Evidence is located precisely and is faithful: without it, the label's probability drops."""

from __future__ import annotations

import math
import statistics
import sys

import pytest

from classifier import evidence
from classifier.case import CaseContext
from classifier.data import Record
from classifier.evidence import sentences
from classifier.signals import detect
from classifier.triage import TriageService


def test_quote_offsets_point_into_the_text_and_contain_the_terms(
    service: TriageService, tiny_records: list[Record]
) -> None:
    texts = [r.text for r in tiny_records[:80]] + [
        "Ünïcode café — I was charged twice (£89.99)!! Refund please.\n\n> quoted reply",
    ]
    checked = 0
    for text in texts:
        for label in service.classify_many([text], [CaseContext()])[0].departments:
            for quote in label.quotes:
                assert text[quote.start : quote.end] == quote.text
                checked += 1
            # up to five terms, at most three quoted sentences: every term is in the text
            assert all(term in text.lower() for term in label.terms)
    assert checked > 50


def test_removing_the_evidence_sentences_lowers_the_labels_probability(
    service: TriageService, tiny_records: list[Record]
) -> None:
    model = service.holder.current.model  # type: ignore[union-attr]
    labels = list(model.labels)
    drops = []
    for record in tiny_records[:150]:
        text = record.text
        for label in service.classify_many([text], [CaseContext()])[0].departments:
            if not label.quotes:
                continue
            cut = text
            for quote in sorted(label.quotes, key=lambda q: -q.start):
                cut = cut[: quote.start] + cut[quote.end :]
            after = model.predict_proba([cut])[0][labels.index(label.id)]
            before = model.predict_proba([text])[0][labels.index(label.id)]
            drops.append(_log_odds(before) - _log_odds(after))
    assert len(drops) > 50
    assert sum(d > 0 for d in drops) / len(drops) >= 0.95
    # In log-odds, because calibrated probabilities near 1 barely move however much
    # evidence goes: a drop of 1 divides the odds by e.
    assert statistics.median(drops) > 1.0


def _log_odds(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def test_sentences_keep_amounts_and_closing_quotes_whole() -> None:
    text = 'I paid £89.99 on 3.4.2025. They said "delivered." But nothing came!'
    assert [s.text for s in sentences(text)] == [
        "I paid £89.99 on 3.4.2025.",
        'They said "delivered."',
        "But nothing came!",
    ]


def test_one_pass_cutting_equals_cutting_chunk_by_chunk(train_records: list[Record]) -> None:
    awkward = ["...and THEN -- “Refund!!” (ORDER #55812), e.g. £89.99/£12", "_x_ ¿qué? naïve", ""]
    for text in [*awkward, *(r.text for r in train_records)]:
        assert evidence._tokens(text) == evidence._tokens_by_chunk(text)
    chunks, tokens = evidence._tokens("İstanbul: REFUND now!")  # falls back, offsets kept
    assert [t[0] for t in tokens] == ["i̇stanbul", "refund", "now"]


def test_what_a_passage_reuses_equals_working_from_the_text(train_records: list[Record]) -> None:
    # the triage cuts a text once: its sentences serve the summary and its amounts serve the
    # signals; both must give what the text alone gives, with or without quoted lines
    quoted = 0
    for record in train_records:
        passage = evidence.Passage.of(record.text)
        quotes = list(passage.sentences[1:3])
        assert evidence.summary(passage, quotes) == evidence.summary(record.text, quotes)
        assert detect(record.text, amount_limit=100, found=passage.amounts) == detect(
            record.text, amount_limit=100
        ), record.id
        quoted += "\n>" in record.text
    assert quoted > 0


def test_the_memory_of_cut_chunks_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evidence, "CUT_CACHE_SIZE", 5)
    monkeypatch.setattr(evidence, "_cuts", {})
    text = "One two, three! four five six seven eight nine ten (eleven) twelve."
    for _ in range(3):
        assert evidence._tokens(text) == evidence._tokens_by_chunk(text)
        assert len(evidence._cuts) <= 5


def test_lower_casing_keeps_white_space_as_it_is() -> None:
    # so a passage's lower-cased words are the text's words, as many and cut the same way
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        lowered = char.lower()
        assert char.isspace() == any(c.isspace() for c in lowered), hex(code)
        assert not char.isspace() or lowered == char, hex(code)
    text = "İstanbul\u2028REFUND  now\u00a0!"
    assert evidence.Passage.of(text).words == tuple(text.lower().split())
