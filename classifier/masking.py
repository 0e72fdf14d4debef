"""What the store keeps when `mask_stored_text` is on: the same triage, corrections and
handoff edits with personal data masked (`classifier.redact`).

Masks keep the length of what they replace, so the stored quotes' `start`/`end` offsets
still point at the same words of the stored text. The drafts and the summary copy pieces of
the complaint, sometimes cut ("…") or split (a phone number's digit groups listed as
references), so besides masking every string, the digit groups of each number found in the
complaint are masked wherever they appear on their own, and so is the start of a value cut
off by an ellipsis.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifier.casework import Correction, NewHandoff
from classifier.catalogue import Catalogue
from classifier.redact import Found, Kind, Redactor, apply, find, map_strings, normalised

# Fields of a triage document that name things rather than quote the complaint.
_IDENTIFIERS = frozenset(
    {"triage_id", "id", "case_ref", "model_version", "created", "due", "reply_by", "department"}
)
_PIECE = re.compile(r"[A-Za-z0-9]{4,}")
_ELLIPSIS = "…"


@dataclass(frozen=True)
class MaskedTriage:
    text: str
    context: dict[str, Any]
    document: dict[str, Any]
    handoffs: list[NewHandoff]


def own_values(catalogue: Catalogue, templates_dir: Path) -> set[str]:
    """The organisation's own addresses and numbers, written in the department catalogue and
    the draft templates: they appear in every draft and are nobody's personal data."""
    sources = [
        str(value)
        for department in catalogue.departments.values()
        for value in dataclasses.asdict(department).values()
    ]
    sources += [
        path.read_text(encoding="utf-8", errors="replace")
        for path in sorted(templates_dir.rglob("*"))
        if path.is_file()
    ]
    return {normalised(f.kind, s[f.start : f.end]) for s in sources for f in find(s)}


class _Copies:
    """Masks pieces of the complaint's personal data in strings derived from it."""

    def __init__(self, values: Sequence[tuple[Kind, str]]) -> None:
        self.values = values
        pieces = sorted(
            {
                piece
                for kind, value in values
                if kind != "email"  # an address's pieces are names and common words
                for piece in _PIECE.findall(value)
                if any(c.isdigit() for c in piece)
            },
            key=len,
            reverse=True,
        )
        self.pieces = (
            re.compile(
                r"(?<![A-Za-z0-9])(?:" + "|".join(map(re.escape, pieces)) + r")(?![A-Za-z0-9])",
                re.IGNORECASE,
            )
            if pieces
            else None
        )

    def mask(self, text: str) -> str:
        if _ELLIPSIS in text:  # first: a cut-off value is seen whole before its pieces go
            text = self._cut_off(text)
        if self.pieces is not None:
            text = self.pieces.sub(lambda m: "*" * len(m.group()), text)
        return text

    def _cut_off(self, text: str) -> str:
        """The start of a value cut off by "…" (a summary or a quote shortened to a limit)."""
        found = []
        at = text.find(_ELLIPSIS)
        while at != -1:
            before = text[:at].rstrip()
            for kind, value in self.values:
                for spelling in dict.fromkeys((value, " ".join(value.split()))):
                    cut = next(
                        (k for k in range(len(spelling) - 1, 1, -1)
                         if before.endswith(spelling[:k]) and _starts_word(before, -k)),
                        0,
                    )  # fmt: skip
                    if cut:
                        found.append(Found(kind, len(before) - cut, len(before)))
                        break
            at = text.find(_ELLIPSIS, at + 1)
        return apply(text, _disjoint(found))


def _starts_word(text: str, index: int) -> bool:
    """Whether text[index:] starts a word: a value is written from a word's start."""
    position = len(text) + index
    return position == 0 or not text[position - 1].isalnum()


def _disjoint(found: Iterable[Found]) -> list[Found]:
    kept: list[Found] = []
    for f in sorted(found, key=lambda f: (f.start, -f.end)):
        if not kept or f.start >= kept[-1].end:
            kept.append(f)
    return kept


def _map_document(value: Any, change: Any, key: str | None = None) -> Any:
    if key in _IDENTIFIERS:
        return value
    if isinstance(value, dict):
        return {k: _map_document(v, change, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_document(v, change) for v in value]
    return change(value) if isinstance(value, str) else value


def _requote(original: dict[str, Any], masked: dict[str, Any], text: str, masked_text: str) -> None:
    """Quotes and signal phrases become the masked text at their offsets, so the highlight
    in the web page and the quote itself agree."""
    departments = zip(original.get("departments", []), masked.get("departments", []), strict=True)
    pairs = [
        (q, m, "text")
        for d, md in departments
        for q, m in zip(d.get("quotes", []), md.get("quotes", []), strict=True)
    ]
    pairs += [
        (s, m, "phrase")
        for s, m in zip(
            original.get("escalation", {}).get("signals", []),
            masked.get("escalation", {}).get("signals", []),
            strict=True,
        )
    ]
    for quote, target, field in pairs:
        start, end = quote.get("start"), quote.get("end")
        if isinstance(start, int) and isinstance(end, int) and text[start:end] == quote[field]:
            target[field] = masked_text[start:end]


class StoredMasking:
    """Masks what is about to be stored."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor

    def text(self, value: str | None) -> str | None:
        return None if value is None else self.redactor.mask(value)

    def triage(
        self,
        text: str,
        context: dict[str, Any],
        document: dict[str, Any],
        handoffs: Sequence[NewHandoff],
    ) -> MaskedTriage:
        found = self.redactor.find(text)
        masked_context = self.redactor.mask_all(context)
        if not found and masked_context == context:
            # Nothing personal came in, so the drafts hold only the catalogue's and the
            # templates' own words.
            return MaskedTriage(text, context, document, list(handoffs))
        masked_text = apply(text, found)
        copies = _Copies([(f.kind, text[f.start : f.end]) for f in found])

        done: dict[str, str] = {}  # the drafts are in the document and in the handoffs

        def derived(value: str) -> str:
            if value not in done:
                done[value] = copies.mask(self.redactor.mask(value))
            return done[value]

        masked_document = _map_document(document, derived)
        _requote(document, masked_document, text, masked_text)
        return MaskedTriage(
            masked_text,
            masked_context,
            masked_document,
            [dataclasses.replace(h, subject=derived(h.subject), body=derived(h.body))
             for h in handoffs],
        )  # fmt: skip

    def correction(self, correction: Correction) -> Correction:
        """The agent's comment and edited drafts masked; labels and author as they are."""
        return dataclasses.replace(
            correction,
            handoffs=map_strings(correction.handoffs, self.redactor.mask),
            customer_message=map_strings(correction.customer_message, self.redactor.mask),
            comment=self.text(correction.comment),
        )
