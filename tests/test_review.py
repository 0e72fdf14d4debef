"""needs_review: doubtful cases are flagged with reasons, not guessed."""

from __future__ import annotations

import random
import re
import sys
from collections import Counter

import pytest
from fastapi.testclient import TestClient

from classifier import language
from classifier.data import Record
from classifier.language import detect_language

FOREIGN = {
    "French": "Bonjour, j'ai été débité deux fois pour ma commande et le colis n'est jamais "
              "arrivé. Je voudrais un remboursement, merci de votre aide.",
    "German": "Sehr geehrte Damen und Herren, ich wurde zweimal belastet und das Paket ist "
              "nicht angekommen. Bitte erstatten Sie mir mein Geld zurück.",
}  # fmt: skip


@pytest.mark.parametrize("language", sorted(FOREIGN))
def test_a_complaint_in_another_language_is_flagged_not_routed_with_confidence(
    client: TestClient, language: str
) -> None:
    body = client.post("/v1/triage", json={"text": FOREIGN[language]}).json()
    assert body["needs_review"] is True
    assert f"written in {language}; the model was trained on English only" in body["review_reasons"]
    assert body["language"] == {"French": "fr", "German": "de"}[language]


def test_an_english_complaint_is_not_flagged_for_language(client: TestClient) -> None:
    text = "I was charged twice for my order and the parcel has not arrived. Please refund me."
    body = client.post("/v1/triage", json={"text": text}).json()
    assert body["language"] == "en"
    assert not any("written in" in r for r in body["review_reasons"])


def test_a_very_short_complaint_is_too_short_to_judge(client: TestClient) -> None:
    body = client.post("/v1/triage", json={"text": "refund??"}).json()
    assert body["needs_review"] is True
    assert "too short to judge (1 word)" in body["review_reasons"]
    assert body["language"] is None


def test_no_department_is_a_review_reason(client: TestClient) -> None:
    body = client.post("/v1/triage", json={"text": "zzz qqq xxx www vvv"}).json()
    assert body["departments"] == []
    assert "no department clears its threshold" in body["review_reasons"]
    assert body["needs_review"] is True


def test_language_detector_reads_the_shipped_english_data_as_english(
    train_records: list[Record],
) -> None:
    misread = [r.id for r in train_records if detect_language(r.text).code not in (None, "en")]
    assert misread == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Hola, me cobraron dos veces por el pedido y el paquete no ha llegado. Quiero un "
         "reembolso por favor.", "es"),
        ("Buongiorno, il pacco non è mai arrivato e mi avete addebitato due volte. Vorrei il "
         "rimborso per favore.", "it"),
        ("Hallo, ik heb twee keer betaald voor mijn bestelling en het pakket is nog niet "
         "aangekomen.", "nl"),
    ],
)  # fmt: skip
def test_language_detector_names_other_european_languages(text: str, code: str) -> None:
    assert detect_language(text).code == code


def test_counting_function_words_by_chunk_equals_counting_each_word(
    train_records: list[Record],
) -> None:
    def by_word(text: str) -> dict[str, int]:  # lower-case each word of the text on its own
        frequency = Counter(t.lower() for t in language._TOKEN.findall(text))
        return {lang: sum(frequency[w] for w in words) for lang, words in language._WORDS.items()}

    pieces = [w for words in language._FUNCTION_WORDS.values() for w in words.split()]
    pieces += [w.upper() for w in pieces] + ["ΟΔΟΣ", "Σ'", "ß", "ǅ", "!", "'", "_", "1", "\n"]
    rng = random.Random(7)
    fuzzed = ["".join(rng.choices([*pieces, " "], k=rng.randint(0, 12))) for _ in range(5_000)]
    texts = [*FOREIGN.values(), *(r.text for r in train_records), *fuzzed]
    for text in texts:
        if len(text.lower()) == len(text):
            assert language._counts_by_chunk(text.lower().split()) == by_word(text), text


def test_lower_casing_never_makes_a_letter_of_a_non_letter_or_the_reverse() -> None:
    # what counting the words of lower-cased text relies on
    letter = re.compile(r"[^\W\d_]")
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        lowered = char.lower()
        if len(lowered) == 1:
            assert bool(letter.match(char)) == bool(letter.match(lowered)), hex(code)
