"""Masking of e-mail addresses, phone numbers, card numbers and IBANs, and of nothing else."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from classifier import redact
from classifier.redact import Redactor, find, iban_valid, luhn_valid, mask, placeholder
from classifier.settings import PROJECT_ROOT

# (text, the kind found, the exact value found): each is written as customers write them.
POSITIVES = [
    ("Write to ana.garcia@example.com today", "email", "ana.garcia@example.com"),
    ("mail: J.O'Neil+claims@post.example.co.uk.", "email", "Neil+claims@post.example.co.uk"),
    ("<renewals@hearthstone.example> wrote:", "email", "renewals@hearthstone.example"),
    ("Account email: nadia.k@...", "email", "nadia.k@"),
    ("my email is lucy.marchant@ example", "email", "lucy.marchant@"),
    ("correo: josé.pérez@correo.es", "email", "josé.pérez@correo.es"),
    ("UPPER@EXAMPLE.ORG", "email", "UPPER@EXAMPLE.ORG"),
    ("Call me on +44 20 7946 0958.", "phone", "+44 20 7946 0958"),
    ("T: +44 (0)20 7946 0958", "phone", "+44 (0)20 7946 0958"),
    ("mobile +44 7700 900123", "phone", "+44 7700 900123"),
    ("+447700900123 is my number", "phone", "+447700900123"),
    ("Ring 07700 900 655 after six", "phone", "07700 900 655"),
    ("Tel 0161 496 0117, ask for Dev", "phone", "0161 496 0117"),
    ("(020) 7946 0958", "phone", "(020) 7946 0958"),
    ("Tel:0161-496-0117", "phone", "0161-496-0117"),
    ("Mon numéro : 06 12 34 56 78", "phone", "06 12 34 56 78"),
    ("06.12.34.56.78 le soir", "phone", "06.12.34.56.78"),
    ("+33 1 23 45 67 89", "phone", "+33 1 23 45 67 89"),
    ("0033 1 23 45 67 89", "phone", "0033 1 23 45 67 89"),
    ("Tel +49 711 555 0230", "phone", "+49 711 555 0230"),
    ("Handy: 0171 1234567", "phone", "0171 1234567"),
    ("030/1234567", "phone", "030/1234567"),
    ("(030) 123 456 78", "phone", "(030) 123 456 78"),
    ("call (555) 123-4567", "phone", "(555) 123-4567"),
    ("555-123-4567", "phone", "555-123-4567"),
    ("555.123.4567", "phone", "555.123.4567"),
    ("+1 (555) 123-4567", "phone", "+1 (555) 123-4567"),
    ("+1-555-123-4567", "phone", "+1-555-123-4567"),
    ("móvil 612 345 678", "phone", "612 345 678"),
    ("+34 612 34 56 78", "phone", "+34 612 34 56 78"),
    ("+39 347 123 4567", "phone", "+39 347 123 4567"),
    ("tel 02 1234 5678", "phone", "02 1234 5678"),
    ("+31 6 1234 8890", "phone", "+31 6 1234 8890"),
    ("bel 06-12345678", "phone", "06-12345678"),
    ("+353 87 555 0412", "phone", "+353 87 555 0412"),
    ("087 123 4567", "phone", "087 123 4567"),
    ("+48 22 555 0193", "phone", "+48 22 555 0193"),
    ("Kraków office, tel. 12 345 67 89", "phone", "12 345 67 89"),
    ("+45 31 22 90 17", "phone", "+45 31 22 90 17"),
    ("call me on 612345678", "phone", "612345678"),
    ("Her number is 07700 914 226.", "phone", "07700 914 226"),
    ("Order 4471220 placed.\n07700 900 118", "phone", "07700 900 118"),
    ("card 4111 1111 1111 1111 expires 12/26", "card", "4111 1111 1111 1111"),
    ("4111-1111-1111-1111", "card", "4111-1111-1111-1111"),
    ("paid with 5555555555554444.", "card", "5555555555554444"),
    ("Amex 3782 822463 10005", "card", "3782 822463 10005"),
    ("visa 4222222222222 (old)", "card", "4222222222222"),
    ("card 6011 1111 1111 1117 2024", "card", "6011 1111 1111 1117"),
    ("IBAN GB82 WEST 1234 5698 7654 32 please refund", "iban", "GB82 WEST 1234 5698 7654 32"),
    ("DE89370400440532013000.", "iban", "DE89370400440532013000"),
    ("FR14 2004 1010 0505 0001 3M02 606", "iban", "FR14 2004 1010 0505 0001 3M02 606"),
    ("iban nl91abna0417164300 thanks", "iban", "nl91abna0417164300"),
    ("NO93 8601 1117 947", "iban", "NO93 8601 1117 947"),
    ("MT84MALT011000012345MTLCAST001S", "iban", "MT84MALT011000012345MTLCAST001S"),
    ("to DZ58 0002 1000 0111 3000 0005 70 now", "iban", "DZ58 0002 1000 0111 3000 0005 70"),
]

NEGATIVES = [
    "Order 4471220 placed on 12/03/2024 at 14:30.",
    "Case CRM-1234 and our ref 4471-220.",
    "We paid EUR 1,240.00 and then €2.300 and 1 240 000 kr.",
    "Amounts: £212,000 and 4.09% over 5 years; 40k USD.",
    "Dates 2024-03-12, 12.03.2024, 12/03/24, 05.03.2024 10:30 and 31 March 2024.",
    "Times 11:42, 09:05:33 and 14.30.",
    "Postcodes SW1A 1AA, EC2V 7NQ, NW10 7AB, 75008 Paris, 10115 Berlin, 1250-147 Lisboa.",
    "Tracking 1Z999AA10123456784, JD014600003828430924, AB123456789GB,",
    "USPS 9400 1000 0000 0000 0000 00 and FedEx 7946 1234 5678.",
    "Models WM-8140, SM-G991B, KD-55X85J, FD45 and serial 21-0884-3320.",
    "Account number: 0771 552 908",
    "Account number 5520 7718 03",
    "order 0123456789 and policy HH-00872231",
    "Invoice INV-2023-10-4471 and agreement RFU-0092-551836",
    "meeting IDs 884 2210 4471, 884 2210 5903",
    "police report (denuncia no. 08019/24/77412)",
    "VAT number DE318844109 and GB 318 4471 06",
    "sort code 40-61-18, account 73014482",
    "@BrightwellBank you've taken 4 days. cc @WhichUK",
    "Thanks .@DinnerhopUK",
    "IMEI 356938035643809 on the handset",
    "4111 1111 1111 1112 fails the Luhn check",
    "GB82 WEST 1234 5698 7654 33 fails mod 97",
    "SW19 3RQ and then the courier left",
    "Regulation (EC) 261/2004 gives 600 euros",
    "Version 2.13.4 build 20240312 on 192.168.100.200",
    "rated 5 stars, 3 times, in 2021-2023",
    "Reservation TRV-88301452 for 2 nights",
    "a Mechanical Engineering student at Kinloch (student number 2211740)",  # no "ring"
    "Call us on 0800 for nothing",
    "{{7*7}} and <b>bold</b>",
    "",
]


@pytest.mark.parametrize(("text", "kind", "value"), POSITIVES)
def test_personal_data_is_found_and_masked(text: str, kind: str, value: str) -> None:
    found = find(text)
    assert [(f.kind, text[f.start : f.end]) for f in found] == [(kind, value)]
    masked = mask(text)
    assert value not in masked
    assert len(masked) == len(text)
    assert masked == text.replace(value, placeholder(found[0].kind, len(value)), 1)


@pytest.mark.parametrize("text", NEGATIVES)
def test_ordinary_complaint_content_is_left_alone(text: str) -> None:
    assert find(text) == []
    assert mask(text) == text


def test_placeholders_keep_the_length_and_say_the_kind() -> None:
    assert placeholder("phone", 16) == "[phone*********]"
    assert placeholder("email", 7) == "[email]"
    assert placeholder("email", 4) == "****"
    assert mask("a@b.co, a@b.com") == "******, [email]"


def test_several_kinds_in_one_text_are_each_masked_in_place() -> None:
    text = (
        "Hi, I'm Ana (ana@example.com, +44 7700 900123). Refund card 4111 1111 1111 1111 "
        "to IBAN GB82 WEST 1234 5698 7654 32, order 4471220, EUR 1,240.00 on 12/03/2024."
    )
    assert mask(text) == (
        "Hi, I'm Ana ([email********], [phone********]). Refund card [card*************] "
        "to IBAN [iban*********************], order 4471220, EUR 1,240.00 on 12/03/2024."
    )


def test_masking_twice_changes_nothing_more() -> None:
    for text, _, _ in POSITIVES:
        assert mask(mask(text)) == mask(text)


def test_a_redactor_keeps_the_organisations_own_addresses() -> None:
    redactor = Redactor(keep={"finance-desk@company.example", "08001234567"})
    text = "Sent to Finance-Desk@company.example and 0800 123 4567 by ana@example.com"
    assert redactor.mask(text) == (
        "Sent to Finance-Desk@company.example and 0800 123 4567 by [email********]"
    )


def _iban(country: str, length: int, rng: random.Random) -> str:
    bban = "".join(rng.choice("0123456789") for _ in range(length - 4))
    check = 98 - int("".join(str(int(c, 36)) for c in bban + country + "00")) % 97
    return f"{country}{check:02d}{bban}"


def test_an_iban_of_every_registry_country_is_found_spaced_or_not() -> None:
    rng = random.Random(3)
    for country, length in redact._IBAN_LENGTHS.items():
        compact = _iban(country, length, rng)
        assert iban_valid(compact)
        spaced = " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
        for written in (compact, spaced):
            text = f"Please pay {written} by Friday."
            assert [text[f.start : f.end] for f in find(text)] == [written], country


def test_the_checksums() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("GB82WEST12345698765432") and not iban_valid("GB82WEST12345698765433")


def test_a_string_without_digits_or_at_signs_comes_back_as_it_is() -> None:
    text = "The courier left it in the rain. " * 50
    assert mask(text) is text


def test_the_training_texts_hold_only_phones_and_e_mails_and_no_false_cards() -> None:
    """What the masker finds in the project's own data (tens of signatures and contact
    lines); none of the many order, account and policy numbers there is a card or IBAN."""
    counts = dict.fromkeys(redact.KINDS, 0)
    for name in ("complaints.jsonl", "test.jsonl"):
        for line in (PROJECT_ROOT / "training_data" / name).read_text().splitlines():
            for f in find(json.loads(line)["text"]):
                counts[f.kind] += 1
    assert counts["card"] == 0 and counts["iban"] == 0
    assert 80 <= counts["phone"] <= 110 and 40 <= counts["email"] <= 60


@pytest.mark.slow
def test_the_privacy_cost_benchmark_prints_every_cost_against_the_request_budget(
    models_dir_with_champion: tuple[Path, str],
) -> None:
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / "privacy_cost.py"), "--requests", "300",
         "--rounds", "2", "--models-dir", str(models_dir_with_champion[0])],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    rows = result.stdout.splitlines()
    for what in ("mask(), the 20 longest", "without personal data", "with personal data",
                 "request id made", "request id echoed"):  # fmt: skip
        (row,) = [r for r in rows if what in r]
        assert re.search(r"\s-?\d+\.\d\s+-?\d+\.\d%$", row), row
    assert "budget: 2,857 µs" in rows[-1]
