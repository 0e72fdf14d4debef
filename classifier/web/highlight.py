"""Evidence marked in the complaint text.

Department quotes and escalation signals overlap (a signal phrase sits inside a quoted
sentence, two departments quote the same sentence), so the text is cut into runs that are
each covered by one unchanging set of spans: every run becomes at most one `<mark>` and the
markup never has to nest or cross.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Span:
    """A stretch of the text that supports a label: a department's quote or a signal."""

    start: int
    end: int
    label: str
    signal: bool = False


@dataclass(frozen=True)
class Run:
    """Consecutive characters that the same spans cover."""

    start: int
    end: int
    text: str
    departments: tuple[str, ...] = ()
    signals: tuple[str, ...] = ()

    @property
    def marked(self) -> bool:
        return bool(self.departments or self.signals)

    @property
    def title(self) -> str:
        """What the mark stands for, for the tooltip."""
        parts = list(self.departments)
        parts += [f"escalation: {s}" for s in self.signals]
        return "; ".join(parts)


def spans_of(document: Mapping[str, Any]) -> list[Span]:
    """The quotes of every predicted department and the escalation signals of a triage
    document (the shape `classifier.document.triage_document` returns)."""
    spans = [
        Span(int(q["start"]), int(q["end"]), str(d["name"]))
        for d in document.get("departments", [])
        for q in d.get("quotes", [])
    ]
    spans += [
        Span(int(s["start"]), int(s["end"]), str(s["reason"]), signal=True)
        for s in document.get("escalation", {}).get("signals", [])
    ]
    return spans


def _unique(labels: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(labels))


def runs(text: str, spans: Sequence[Span]) -> list[Run]:
    """`text` cut into runs, in order, that together are exactly `text`. Spans outside the
    text or empty are ignored: a stored triage must still render if its offsets are off."""
    valid = [s for s in spans if 0 <= s.start < s.end <= len(text)]
    cuts = sorted({0, len(text), *(s.start for s in valid), *(s.end for s in valid)})
    result = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        covering = [s for s in valid if s.start <= start and end <= s.end]
        result.append(
            Run(
                start,
                end,
                text[start:end],
                departments=_unique(s.label for s in covering if not s.signal),
                signals=_unique(s.label for s in covering if s.signal),
            )
        )
    return result
