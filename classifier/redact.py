"""Personal data in free text: e-mail addresses, phone numbers, payment cards and IBANs.

`find` locates them and `mask` replaces each with a placeholder of the same length, such as
`[phone********]`. Keeping the length keeps every character offset into the text valid, so
evidence quotes stored with `start`/`end` still point at the same words of the masked text.

Order numbers, case references, amounts, dates, times, postcodes, tracking and model numbers
are ordinary complaint content and stay: card numbers must pass the Luhn check and IBANs the
mod-97 check, and a number is only a phone when its shape says so (+country code, a national
trunk 0, a US-style 3-3-4 grouping) or a word such as "call" or "mobile" comes right before
it, while a nearer "order", "account" or "ref" says it is something else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["email", "phone", "card", "iban"]
KINDS: tuple[Kind, ...] = ("email", "phone", "card", "iban")

# Separators people type inside numbers: a space, a no-break space, a dot, a dash, a slash.
_SPACE = " \u00a0"

# An e-mail address is a local part, "@" and a domain. The domain is optional so that a
# cut-off or spaced-out address ("lucy@ example") still loses its personal part; a bare
# @handle has no local part and stays.
_LOCAL = "._%+-"
_DOMAIN = re.compile(r"[\w-]+(?:\.[\w-]+)*")
# Digits and the separators written between them: where phones, cards and IBANs are.
_CLUSTER = re.compile(r"[0-9][0-9 ().+/\u00a0-]*")
_IBAN = re.compile(r"(?<!\w)[A-Za-z]{2}\d{2}(?:[ \u00a0]?[A-Za-z0-9]){11,30}")
# An IBAN of a country outside the registry counts only when written as IBANs are printed:
# capitals and digits, in one piece or in groups of four.
_IBAN_OTHER = re.compile(
    r"[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)"
)
_CARD = re.compile(r"(?<![\w.,+/-])[2-6]\d(?:[ \u00a0-]?\d){11,17}(?!\w)")
_PHONE = re.compile(
    r"(?<![\w+.,/£$€¥-])(?<!\d:)"
    r"(?=[+(\d][\d ().+/\u00a0-]{6})"  # at least 7 phone-like characters: rules out most numbers
    r"(?:\+[ \u00a0]?|\(\+)?"
    r"(?:\(\d{1,5}\)[ \u00a0.-]?)?"  # (020) 7946 ... or (555) 123-4567
    r"\d+"
    r"(?:(?:[ \u00a0]?\(\d{1,4}\)[ \u00a0]?|[ \u00a0./-])\d+)*"  # +44 (0)20 ..., 06.12.34
    r"(?![\w:]|[.,]\d)"  # not a time (10:30) nor a decimal amount
)
_DATE = re.compile(r"\d{1,2}([./-])\d{1,2}\1\d{2,4}|\d{4}([./-])\d{1,2}\2\d{1,2}")
_US_SHAPE = re.compile(r"\(?[2-9]\d{2}\)?[ .-]?\d{3}[ .-]\d{4}")
_MOBILE_3_3_3 = re.compile(r"[67]\d{2}([ .-])\d{3}\1\d{3}")  # Spanish mobiles: 612 345 678

# The nearest of these words before a number decides what it is.
_PHONE_WORDS = frozenset(
    "tel telephone phone phoned ph mobile mob cell cellphone call called calling ring rang"
    " text sms whatsapp fax landline t: m: f: reach_me contact_me number_is".split()
)
_CARD_WORDS = frozenset("card visa mastercard amex maestro debit credit pan".split())
_OTHER_WORDS = frozenset(
    "order orders account acct a/c ref reference policy invoice agreement booking ticket case"
    " claim tracking track serial model member membership contract meter mpan mprn"
    " registration reg charity company vat imei iccid sort_code parcel consignment shipment"
    " item sku part product receipt transaction loan mortgage".split()
)
_NOT_PHONE = _OTHER_WORDS | _CARD_WORDS
_NOT_CARD = _OTHER_WORDS | _PHONE_WORDS
_WORD = re.compile(r"[a-z/]+:?")
_CUE_WINDOW = 40

# IBAN length per country (the SWIFT IBAN registry); other countries: any length 15-34.
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Found:
    """Personal data at text[start:end]."""

    kind: Kind
    start: int
    end: int


def placeholder(kind: Kind, length: int) -> str:
    """`[kind***]` exactly `length` characters long (only stars when the label is longer)."""
    label = f"[{kind}"
    if length < len(label) + 1:
        return "*" * length
    return label + "*" * (length - len(label) - 1) + "]"


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(compact: str) -> bool:
    """The ISO 13616 check: the rearranged IBAN read as a number leaves 1 modulo 97."""
    if not compact.isalnum() or not compact.isascii():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _cue(text: str, start: int, yes: frozenset[str], no: frozenset[str]) -> str | None:
    """'yes', 'no' or None: the kind of the nearest cue word in the few words before, on the
    same line (a signature's number is not the "Account" on the line above)."""
    line = text.rfind("\n", 0, start) + 1
    low = max(line, start - _CUE_WINDOW)
    words = _WORD.findall(text[low:start].lower())
    if low > line and text[low - 1].isalpha() and text[low].isalpha():
        words = words[1:]  # the window starts inside a word ("engineering" is no "ring")
    for i in range(len(words) - 1, -1, -1):
        word = words[i]
        pair = f"{words[i - 1].rstrip(':')}_{word.rstrip(':')}" if i else ""
        for candidate in (pair, word, word.rstrip(":")):
            if candidate in yes:
                return "yes"
            if candidate in no:
                return "no"
    return None


def _group_ends(text: str, start: int, end: int) -> list[int]:
    """Where digit or letter groups end inside text[start:end], last first."""
    ends = [i for i in range(start + 1, end) if text[i - 1].isalnum() and not text[i].isalnum()]
    return [end, *reversed(ends)]


def _iban_at(text: str, start: int, end: int) -> int | None:
    """The end of a valid IBAN starting at `start`, if one does."""
    length = _IBAN_LENGTHS.get(text[start : start + 2].upper())
    for stop in _group_ends(text, start, end):
        written = text[start:stop]
        compact = "".join(c for c in written if c.isalnum()).upper()
        if length is None and not _IBAN_OTHER.fullmatch(written):
            continue  # a country outside the registry: only as IBANs are printed
        if len(compact) == (length or len(compact)) and 15 <= len(compact) <= 34:
            if iban_valid(compact):
                return stop
    return None


def _card_at(text: str, start: int, end: int) -> int | None:
    """The end of a Luhn-valid card number starting at `start`, if one does."""
    for stop in _group_ends(text, start, end):
        digits = "".join(c for c in text[start:stop] if c.isdigit())
        if not 13 <= len(digits) <= 19 or not luhn_valid(digits):
            continue
        if len(digits) == 15 and digits[:2] not in ("34", "37"):
            continue  # 15 digits are American Express or an IMEI (phone serial), not a card
        if _cue(text, start, _CARD_WORDS, _NOT_CARD) == "no":
            return None
        return stop
    return None


def _is_phone(text: str, start: int, end: int) -> bool:
    candidate = text[start:end]
    digits = sum(c.isdigit() for c in candidate)
    if not 7 <= digits <= 17:
        return False
    if candidate[0] == "+" or candidate.startswith("(+"):
        return 8 <= digits <= 15
    if candidate.count("/") > 1:
        return False  # 08019/24/77412: a file or report number; phones have one slash at most
    date = _DATE.match(candidate)
    if date and (date.end() == len(candidate) or candidate[date.end()] in _SPACE):
        return False  # a date, perhaps followed by a time or a count
    if candidate.startswith("00"):
        shaped = 10 <= digits <= 17  # 00 and then an international number
    elif candidate.lstrip("(").startswith("0"):
        shaped = 9 <= digits <= 12  # a national number with its trunk 0
    else:
        shaped = bool(_US_SHAPE.fullmatch(candidate) or _MOBILE_3_3_3.fullmatch(candidate))
    if not shaped and digits > 12:
        return False
    cue = _cue(text, start, _PHONE_WORDS, _NOT_PHONE)
    return cue != "no" and (shaped or cue == "yes")


def _overlaps(found: list[Found], start: int, end: int) -> bool:
    return any(f.start < end and start < f.end for f in found)


def _emails(text: str) -> list[Found]:
    """Addresses around each "@": scanning out from it is several times faster than a
    regular expression that tries every position of a long letter."""
    found = []
    at = text.find("@")
    while at != -1:
        start = at
        while start > max(0, at - 64) and (text[start - 1].isalnum() or text[start - 1] in _LOCAL):
            start -= 1
        while start < at and not _is_word(text[start]):
            start += 1  # the local part starts and ends with a letter or digit
        end = at + 1
        if start < at and _is_word(text[at - 1]):
            domain = _DOMAIN.match(text, at + 1)
            end = domain.end() if domain else at + 1
            found.append(Found("email", start, end))
        at = text.find("@", end)
    return found


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def find(text: str) -> list[Found]:
    """Every e-mail address, IBAN, card number and phone number in `text`, in order."""
    found = _emails(text) if "@" in text else []
    # Each run of digits and separators is one place to look: the detailed patterns run
    # only there, from two characters before (for "+" or "(+") to two after (lookaheads).
    for cluster in _CLUSTER.finditer(text):
        start, end = cluster.span()
        if start >= 2 and text[start - 2 : start].isalpha():
            iban = _IBAN.match(text, start - 2)
            stop = _iban_at(text, start - 2, iban.end()) if iban else None
            if stop is not None and not _overlaps(found, start - 2, stop):
                found.append(Found("iban", start - 2, stop))
        if end - start < 6:
            continue
        low, high = max(0, start - 2), min(len(text), end + 2)
        for match in _CARD.finditer(text, low, high):
            stop = _card_at(text, match.start(), match.end())
            if stop is not None and not _overlaps(found, match.start(), stop):
                found.append(Found("card", match.start(), stop))
        for match in _PHONE.finditer(text, low, high):
            begin, stop = match.span()
            if _is_phone(text, begin, stop) and not _overlaps(found, begin, stop):
                found.append(Found("phone", begin, stop))
    found.sort(key=lambda f: f.start)
    return found


def normalised(kind: Kind, value: str) -> str:
    """One spelling per value: lower-case e-mail, upper-case IBAN, the digits of a number."""
    if kind == "email":
        return value.lower()
    if kind == "iban":
        return "".join(c for c in value if c.isalnum()).upper()
    return "".join(c for c in value if c.isdigit())


class Redactor:
    """Masks personal data, except the values in `keep` (normalised): the organisation's own
    contact addresses and numbers, which are not anyone's personal data."""

    def __init__(self, keep: Iterable[str] = ()) -> None:
        self.keep = frozenset(keep)

    def find(self, text: str) -> list[Found]:
        found = find(text)
        if self.keep:
            found = [f for f in found if normalised(f.kind, text[f.start : f.end]) not in self.keep]
        return found

    def mask(self, text: str) -> str:
        """`text` with every value found replaced by its placeholder; the length is kept."""
        return apply(text, self.find(text))

    def mask_all(self, value: Any) -> Any:
        """Every string inside JSON-like data (dicts, lists) masked; other values kept."""
        return map_strings(value, self.mask)


def apply(text: str, found: Iterable[Found]) -> str:
    """`text` with the found spans replaced by placeholders."""
    parts, last = [], 0
    for f in found:
        parts += [text[last : f.start], placeholder(f.kind, f.end - f.start)]
        last = f.end
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


def map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """A copy of JSON-like data with `change` applied to every string in it."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {k: map_strings(v, change) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [map_strings(v, change) for v in value]
    return value


_DEFAULT = Redactor()


def mask(text: str) -> str:
    """`text` with e-mail addresses, phone numbers, card numbers and IBANs masked."""
    return _DEFAULT.mask(text)
