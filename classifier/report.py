"""The evaluation report: figures an analyst reads to judge a model and find where it fails.

Computations only; `plots.py` draws them and `templates/report/index.html.j2` lays them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from classifier.case import CaseContext
from classifier.data import Record
from classifier.evaluation import evaluate, label_matrix
from classifier.registry import LoadedModel
from classifier.triage import TriageService

Matrix = NDArray[np.float64]


@dataclass(frozen=True)
class Scored:
    """A model's probabilities and decisions on a labelled set."""

    labels: list[str]
    truth: NDArray[np.int_]
    proba: Matrix
    thresholds: Matrix

    @property
    def decided(self) -> NDArray[np.int_]:
        return (self.proba >= self.thresholds).astype(np.int_)


def score(loaded: LoadedModel, records: Sequence[Record]) -> Scored:
    model = loaded.model
    labels = list(model.labels)
    return Scored(
        labels=labels,
        truth=label_matrix(records, labels),
        proba=model.predict_proba([r.text for r in records]),
        thresholds=np.asarray(model.all_thresholds_, dtype=np.float64),
    )


def expected_calibration_error(truth: NDArray[np.int_], proba: Matrix, bins: int = 10) -> float:
    """Mean |observed rate - mean probability| over equal-width bins, weighted by bin size."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(proba, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            error += inside.mean() * abs(truth[inside].mean() - proba[inside].mean())
    return float(error)


def coverage_curve(scored: Scored, margins: Sequence[float]) -> list[dict[str, float]]:
    """For each review margin: the share of complaints not flagged for review (coverage) and
    the subset accuracy on those (accuracy on the confident cases)."""
    dept_proba = scored.proba[:, :-1]
    dept_thresholds = scored.thresholds[:-1]
    decided = scored.decided[:, :-1]
    correct = (decided == scored.truth[:, :-1]).all(axis=1)
    rows = []
    for margin in margins:
        near = (np.abs(dept_proba - dept_thresholds) < margin).any(axis=1)
        flagged = near | (decided.sum(axis=1) == 0)
        confident = ~flagged
        rows.append({
            "margin": float(margin),
            "coverage": float(confident.mean()),
            "accuracy": float(correct[confident].mean()) if confident.any() else float("nan"),
        })  # fmt: skip
    return rows


def confusions(scored: Scored) -> NDArray[np.int_]:
    """M[i, j]: complaints that needed department i, did not get it, and got j instead
    (j not needed): which departments the model mistakes for which."""
    truth, decided = scored.truth[:, :-1], scored.decided[:, :-1]
    missed = (truth == 1) & (decided == 0)
    extra = (truth == 0) & (decided == 1)
    return np.asarray(missed.T.astype(np.int_) @ extra.astype(np.int_))


def worst_errors(
    scored: Scored, records: Sequence[Record], service: TriageService, count: int = 25
) -> list[dict[str, Any]]:
    """The complaints the model got most confidently wrong, with what it saw in them."""
    wrong = scored.decided != scored.truth
    cost = (np.abs(scored.proba - scored.truth) * wrong).sum(axis=1)
    order = [int(i) for i in np.argsort(-cost, kind="stable") if cost[i] > 0][:count]
    rows = []
    for i in order:
        record = records[i]
        classification = service.classify_many([record.text], [CaseContext()])[0]
        labels = scored.labels + ["escalate"]
        rows.append({
            "id": record.id,
            "text": record.text if len(record.text) <= 900 else record.text[:899] + "…",
            "cost": round(float(cost[i]), 2),
            "missed": [labels[j] for j in np.flatnonzero(wrong[i] & (scored.truth[i] == 1))],
            "extra": [labels[j] for j in np.flatnonzero(wrong[i] & (scored.truth[i] == 0))],
            "evidence": {d.id: list(d.terms) for d in classification.departments},
        })  # fmt: skip
    return rows


def summary(
    loaded: LoadedModel, records: Sequence[Record], service: TriageService
) -> dict[str, Any]:
    """Everything the report shows except the figures."""
    scored = score(loaded, records)
    metrics = evaluate(loaded.model, records, service.policy)
    labels = scored.labels + ["escalate"]
    return {
        "version": loaded.version,
        "metrics": metrics,
        "thresholds": dict(zip(labels, map(float, scored.thresholds), strict=True)),
        "ece": {
            label: expected_calibration_error(scored.truth[:, j], scored.proba[:, j])
            for j, label in enumerate(labels)
        },
        "coverage": coverage_curve(scored, [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3]),
        "confusions": confusions(scored).tolist(),
        "worst": worst_errors(scored, records, service),
        "scored": scored,
    }


def compare(first: dict[str, Any], second: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-label F1 of two models on the same data, and the difference."""
    rows = []
    for label, a in first["metrics"]["per_label"].items():
        b = second["metrics"]["per_label"][label]
        rows.append({"label": label, "a": a["f1"], "b": b["f1"], "diff": b["f1"] - a["f1"]})
    for key in ("macro_f1", "micro_f1"):
        a, b = first["metrics"][key], second["metrics"][key]
        rows.append({"label": key, "a": a, "b": b, "diff": b - a})
    esc_a, esc_b = first["metrics"]["escalation"], second["metrics"]["escalation"]
    rows.append({"label": "escalation recall", "a": esc_a["recall"], "b": esc_b["recall"],
                 "diff": esc_b["recall"] - esc_a["recall"]})  # fmt: skip
    return rows
