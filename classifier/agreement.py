"""Agreement between two labellers on the same complaints: Cohen's kappa per label."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sklearn.metrics import cohen_kappa_score

from classifier.catalogue import DEPARTMENT_IDS
from classifier.data import Record

ESCALATE = "escalate"


@dataclass(frozen=True)
class LabelAgreement:
    label: str
    kappa: float
    agreement: float  # share of items both labellers gave the same value
    first_positives: int
    second_positives: int


@dataclass(frozen=True)
class Disagreement:
    id: str
    first: Record
    second: Record

    def labels(self) -> list[str]:
        """The labels the two labellers set differently."""
        diff = sorted(set(self.first.departments) ^ set(self.second.departments))
        return diff + ([ESCALATE] if self.first.escalate != self.second.escalate else [])


def _values(records: Sequence[Record], label: str) -> list[int]:
    if label == ESCALATE:
        return [int(r.escalate) for r in records]
    return [int(label in r.departments) for r in records]


def agreement(
    first: Sequence[Record], second: Sequence[Record]
) -> tuple[list[LabelAgreement], list[Disagreement], int]:
    """Per-label agreement on the ids both labelled; the disagreements; the shared count."""
    by_id = {r.id: r for r in first}
    pairs = [(by_id[r.id], r) for r in second if r.id in by_id]
    a = [p[0] for p in pairs]
    b = [p[1] for p in pairs]
    results = []
    for label in (*DEPARTMENT_IDS, ESCALATE):
        x, y = _values(a, label), _values(b, label)
        same = sum(i == j for i, j in zip(x, y, strict=True))
        # kappa is undefined when both labellers used a single value throughout
        kappa = float(cohen_kappa_score(x, y)) if len(set(x) | set(y)) > 1 else 1.0
        results.append(LabelAgreement(label, kappa, same / len(pairs) if pairs else 0.0,
                                      sum(x), sum(y)))  # fmt: skip
    disagreements = [
        Disagreement(f.id, f, s)
        for f, s in pairs
        if set(f.departments) != set(s.departments) or f.escalate != s.escalate
    ]
    return results, disagreements, len(pairs)
