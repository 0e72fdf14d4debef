"""Escalation signals in the text: each criterion, and the decoys that must not fire."""

from __future__ import annotations

import random
import re
import sys

import pytest

from classifier import money, signals
from classifier.case import CaseContext
from classifier.data import Record
from classifier.money import amounts
from classifier.policy import EscalationPolicy
from classifier.signals import detect


def reasons(text: str) -> list[str]:
    return [s.reason for s in detect(text, amount_limit=1000)]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("If this isn't fixed I will take it to the small claims court.", "threat of legal action"),
        ("I have instructed a solicitor.", "threat of legal action"),
        ("I'm reporting you to Ofcom tomorrow.", "threat of legal action"),
        ("The kettle caught fire and burned my hand.", "risk to safety"),
        ("Please delete all my personal data under GDPR.", "personal data breach"),
        ("A journalist at the local paper wants to run this.", "public attention"),
        ("This is the fourth email I have sent about it.", "repeated contact"),
        ("I have called you five times.", "repeated contact"),
        ("My husband passed away in May and the bills keep coming.", "vulnerable customer"),
        ("There is an outage across the whole estate.", "systemic problem"),
        (
            "I was refused service because I'm disabled, that's discrimination.",
            "claim of discrimination",
        ),
        ("You charged me £1,240 twice.", "a large sum at stake"),
    ],
)
def test_each_criterion_is_detected_with_its_reason(text: str, reason: str) -> None:
    assert any(r.startswith(reason) for r in reasons(text)), reasons(text)


@pytest.mark.parametrize(
    "text",
    [
        "Is this legal tender? The machine refused my coins.",
        "My friend who is a lawyer says your app is great.",
        "I am not planning to sue, I just want it fixed.",
        "The refund policy page has a typo.",
        "The 07:42 was cancelled, 3rd time this week.",
        "Our washing machine is 14 months old and leaks.",
        "Refund of £85.50 please.",
        "Thanks, all sorted now.",
    ],
)
def test_decoys_negations_and_plain_complaints_do_not_fire(text: str) -> None:
    assert reasons(text) == []


def test_quoted_earlier_correspondence_is_not_the_customers_words() -> None:
    text = (
        "Still no refund.\n"
        "> On 3 May, Support wrote:\n"
        "> You have the right to refer your complaint to the Financial Ombudsman.\n"
    )
    assert reasons(text) == []


def test_signal_offsets_point_at_the_phrase() -> None:
    text = "Hello. My solicitor will be in touch about order 5512."
    (signal,) = detect(text, amount_limit=1000)
    assert text[signal.start : signal.end] == signal.phrase == "My solicitor"


def test_amounts_are_read_in_several_notations() -> None:
    values = [a[0] for a in amounts("£1,240.50 and EUR 2.300 and 40k USD and 99 pounds")]
    assert values == [1240.0, 2300.0, 40000.0, 99.0]


def test_policy_escalates_on_a_text_signal_and_names_it() -> None:
    policy = EscalationPolicy(amount_limit=1000)
    text = "I will take this to the ombudsman."
    decision = policy.decide(
        probability=0.05, threshold=0.5, context=CaseContext(), departments=[],
        signals=policy.signals(text),
    )  # fmt: skip
    assert decision.escalate
    assert decision.reasons == (
        'threat of legal action or a regulator complaint: "take this to the ombudsman"',
    )


def test_the_lowered_patterns_find_exactly_what_the_case_insensitive_ones_find(
    train_records: list[Record],
) -> None:
    checked = 0
    for record in train_records:
        lowered = record.text.lower()
        if len(lowered) != len(record.text):
            continue
        starts = [m.start() for m in signals._ANY_RULE.finditer(lowered)]
        for rule in signals.RULES:
            slow = [m.span() for m in rule.pattern.finditer(record.text)]
            assert [m.span() for m in rule.lowered.finditer(lowered)] == slow, rule.reason
            # and trying only where some rule matches finds the same
            fast = signals._matches_at(rule.lowered, lowered, starts)
            assert [m.span() for m in fast] == slow, rule.reason
            checked += bool(slow)
    assert checked > 500


def test_grouping_by_first_letter_finds_the_same_positions_as_every_rule(
    train_records: list[Record],
) -> None:
    # the plain union of the rules: what the first-letter grouping must reproduce
    union = re.compile(
        r"\b(?=\w)(?=" + "|".join(f"(?:{rule.lowered.pattern})" for rule in signals.RULES) + ")"
    )
    found = 0
    for record in train_records:
        lowered = record.text.lower()
        starts = [m.start() for m in signals._ANY_RULE.finditer(lowered)]
        assert starts == [m.start() for m in union.finditer(lowered)], record.id
        found += len(starts)
    assert found > 500
    assert signals._first_letters("(my|our|the family's) lawyer") == "mot"
    assert signals._first_letters(r"(\d+|ten) times") is None
    assert signals._first_letters("lawyer") is None


def test_text_whose_lower_case_is_longer_falls_back_and_keeps_offsets() -> None:
    text = "İstanbul office: I will take you to court over this."
    assert len(text.lower()) != len(text)
    (found,) = detect(text, amount_limit=1000)
    assert text[found.start : found.end] == found.phrase == "take you to court"


def test_amounts_tried_at_few_places_are_what_a_full_scan_finds(
    train_records: list[Record],
) -> None:
    def scanned(text: str) -> list[tuple[int, int]]:
        return [m.span() for m in money._AMOUNT.finditer(text)]

    rng = random.Random(5)
    pieces = [*"0123456789,.k £$€EURGBPUSDCHFeurgbpusdchfkKzł\n\t-x\u00a0\u212aſ٣_"]
    pieces += ["EUR", "usd", "euros", "pounds", "dollars", "kr", "zł", "1,240", "2.300", "k "]
    fuzzed = ["".join(rng.choices(pieces, k=rng.randint(0, 30))) for _ in range(20_000)]
    # "£1,2407usd": an amount ends inside a run of digits and the next starts there
    awkward = ["£1,2407usd", "1234,567 EUR", "EUR 2.300 EUR2 £ 5 $40k 40k USD", "ab12cd 99 pounds"]
    for text in [*awkward, *(r.text for r in train_records), *fuzzed]:
        assert [a[2:] for a in amounts(text)] == scanned(text), text


def test_every_character_an_amount_can_open_with_is_an_opener() -> None:
    everything = "".join(map(chr, range(sys.maxunicode + 1)))
    opens = re.compile(r"[£$€EGUC]", re.IGNORECASE)  # what _AMOUNT's lookahead allows, less \d
    assert set(opens.findall(everything)) == money._OPENERS
