"""Money amounts as customers write them: "£1,240.50", "EUR 2.300", "40k USD", "99 pounds"."""

from __future__ import annotations

import re

_NUMBER = r"\d{1,3}(?:[,.]\d{3})+|\d+"  # 1,240 or 2.300 (thousands) or 85
_CODE_AFTER = r"EUR|GBP|USD|CHF|euros?|pounds|dollars|kr|zł"
_AMOUNT = re.compile(
    # Every amount starts with a symbol, a digit or a code: rejecting other positions first
    # halves the time on long letters.
    r"(?=[£$€\dEGUC])"
    # a symbol or code before the number: £1,240.50, EUR 2.300, $40k
    rf"(?:(?P<sym>[£$€]|(?:EUR|GBP|USD|CHF)\b)\s?(?P<a>{_NUMBER})(?:\.\d{{1,2}})?(?P<k>k\b)?)|"
    # or a code after it: 40 EUR, 99 pounds, 250 zł
    rf"(?:(?P<b>{_NUMBER})(?:\.\d{{1,2}})?(?P<k2>k\b)?\s?(?:{_CODE_AFTER})(?!\w))",
    re.IGNORECASE,
)


_DIGITS = re.compile(r"\d+")
# What an amount can start with before its number: a symbol or a code's first letter (all
# that [£$€EGUC] matches ignoring case; a test checks every character).
_OPENERS = frozenset("£$€EGUCeguc")

# (value, as written, start, end)
Amount = tuple[float, str, int, int]


def amounts(text: str) -> list[Amount]:
    """Money amounts written in the text: (value, as written, start, end)."""
    found = []
    for match in _matches(text):
        digits = match.group("a") or match.group("b") or "0"
        value = float(re.sub(r"[,.]", "", digits))
        if match.group("k") or match.group("k2"):
            value *= 1000
        found.append((value, match.group().strip(), match.start(), match.end()))
    return found


def _matches(text: str) -> list[re.Match[str]]:
    """What `_AMOUNT.finditer(text)` finds, trying only where an amount can start.

    Every amount holds a digit, so it starts at a run of digits or at most four characters
    before one (a symbol, or a code and a space). Inside a run, only its first digit can
    start an amount (any later one gives the same match), or one of the three digits before
    a separator ("1234,567 EUR" is "234,567 EUR"). Trying those few places instead of
    scanning every letter for a code halved the time on typical complaints."""
    found: list[re.Match[str]] = []
    after = 0  # where the last amount ended: amounts do not overlap
    for run in _DIGITS.finditer(text):
        first, end = run.span()
        if end <= after:
            continue
        first = max(first, after)  # the rest of a run an amount ended inside
        starts = [s for s in range(max(first - 4, after), first) if text[s] in _OPENERS]
        starts.append(first)
        if end < len(text) and text[end] in ",.":
            starts.extend(range(max(first + 1, end - 3), end))
        for start in starts:
            if match := _AMOUNT.match(text, start):
                found.append(match)
                after = match.end()
                break
    return found
