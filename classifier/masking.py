"""What the store keeps when `mask_stored_text` is on: the same triage, corrections and
handoff edits with personal data masked (`classifier.redact`).

Masks keep the length of what they replace, so the stored quotes' `start`/`end` offsets
still point at the same words of the stored text. The drafts and the summary copy pieces of
the complaint, sometimes cut ("…") or in pieces (an evidence term that is one digit group of a
phone number), so besides masking every string, the start of a value cut off by an ellipsis
is masked, and so is an evidence term made of a number's digit groups, in the evidence lists
and where the drafts quote it.
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
_PIECE = re.compile(r"[A-Za-z0-9]{2,}")
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
    """Pieces of the complaint's personal data in strings derived from it: a value cut off
    by "…", and an evidence term that is a digit group of a number (the evidence lists and
    the drafts quote terms on their own, where no whole number is left to recognise)."""

    def __init__(self, values: Sequence[tuple[Kind, str]], terms: Iterable[str]) -> None:
        self.values = values
        pieces = {
            piece.lower()
            for kind, value in values
            if kind != "email"  # an address's pieces are names and common words
            for piece in _PIECE.findall(value)
            if any(c.isdigit() for c in piece)
        }

        def hide(match: re.Match[str]) -> str:
            word = match.group()
            return "*" * len(word) if word.lower() in pieces else word

        masked = {term: _PIECE.sub(hide, term) for term in terms}
        self.terms = {term: m for term, m in masked.items() if m != term}
        alternatives = "|".join(map(re.escape, sorted(self.terms, key=len, reverse=True)))
        # in the drafts a term is printed in quotation marks: “07700”
        self.quoted = (
            re.compile(rf"(?<=[“\"'‘])({alternatives})(?=[”\"'’])") if self.terms else None
        )

    def mask(self, text: str) -> str:
        if text in self.terms:
            return self.terms[text]
        if _ELLIPSIS in text:
            text = self._cut_off(text)
        if self.quoted is not None:
            text = self.quoted.sub(lambda m: self.terms[m.group(1)], text)
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


def _evidence_terms(document: dict[str, Any]) -> list[str]:
    terms = [t for d in document.get("departments", []) for t in d.get("evidence", [])]
    return terms + list(document.get("escalation", {}).get("evidence", []))


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
        copies = _Copies(
            [(f.kind, text[f.start : f.end]) for f in found], _evidence_terms(document)
        )

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
