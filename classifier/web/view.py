"""What the pages show of one stored triage.

A fresh triage is read back from the store before it is shown, so the results on `/` and on
`/triages/{id}` come from the same stored document and the same handoff rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from classifier.catalogue import DEPARTMENT_IDS
from classifier.store import Feedback, Handoff, StoredTriage
from classifier.web.highlight import Run, runs, spans_of


@dataclass(frozen=True)
class Bar:
    """One department's probability, and the threshold it had to clear when known."""

    id: str
    name: str
    probability: float
    threshold: float | None
    evidence: tuple[str, ...] = ()

    @property
    def percent(self) -> float:
        return round(100 * self.probability, 1)

    @property
    def threshold_percent(self) -> float | None:
        return None if self.threshold is None else round(100 * self.threshold, 1)


@dataclass(frozen=True)
class HandoffView:
    handoff: Handoff
    name: str
    overdue: bool


@dataclass(frozen=True)
class TriageView:
    stored: StoredTriage
    document: dict[str, Any]
    runs: list[Run]
    predicted: list[Bar]
    others: list[Bar]
    handoffs: list[HandoffView]
    names: dict[str, str]

    @property
    def id(self) -> str:
        return self.stored.id

    @property
    def chosen(self) -> tuple[frozenset[str], bool]:
        """Departments and escalation the correction form starts from: the latest correction
        when there is one (an agent rarely wants to redo it), else the prediction."""
        latest: Feedback | None = self.stored.latest_feedback
        if latest is not None:
            return frozenset(latest.departments), latest.escalate
        return frozenset(self.stored.departments), self.stored.escalate

    @classmethod
    def of(cls, stored: StoredTriage, names: dict[str, str], now: datetime) -> TriageView:
        document = stored.result
        predicted = [
            Bar(
                d["id"],
                d["name"],
                float(d["probability"]),
                float(d["threshold"]),
                tuple(d.get("evidence", ())),
            )
            for d in document.get("departments", [])
        ]
        probabilities: dict[str, float] = document.get("probabilities", {})
        seen = {b.id for b in predicted}
        # Thresholds are in the document only for the predicted departments.
        others = sorted(
            (
                Bar(d, names.get(d, d), float(probabilities.get(d, 0.0)), None)
                for d in DEPARTMENT_IDS
                if d not in seen
            ),
            key=lambda b: -b.probability,
        )
        drafted = {h["id"]: h for h in document.get("handoffs", [])}
        handoffs = [
            HandoffView(
                h,
                drafted.get(h.id, {}).get("name") or names.get(h.department, h.department),
                h.overdue(now),
            )
            for h in stored.handoffs
        ]
        return cls(
            stored=stored,
            document=document,
            runs=runs(stored.text, spans_of(document)),
            predicted=predicted,
            others=others,
            handoffs=handoffs,
            names=names,
        )


@dataclass(frozen=True)
class Listing:
    """One line of `/triages`."""

    stored: StoredTriage
    departments: list[str]
    waiting: int  # handoffs not yet acknowledged
    overdue: int

    @classmethod
    def of(cls, stored: StoredTriage, names: dict[str, str], now: datetime) -> Listing:
        return cls(
            stored,
            [names.get(d, d) for d in stored.departments],
            sum(h.status != "acknowledged" for h in stored.handoffs),
            sum(h.overdue(now) for h in stored.handoffs),
        )
