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


# (value, as written, start, end)
Amount = tuple[float, str, int, int]


def amounts(text: str) -> list[Amount]:
    """Money amounts written in the text: (value, as written, start, end)."""
    found = []
    for match in _AMOUNT.finditer(text):
        digits = match.group("a") or match.group("b") or "0"
        value = float(re.sub(r"[,.]", "", digits))
        if match.group("k") or match.group("k2"):
            value *= 1000
        found.append((value, match.group().strip(), match.start(), match.end()))
    return found
