"""Metrics for a model on a labelled dataset: per label, micro/macro, escalation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from classifier.case import CaseContext
from classifier.data import Record
from classifier.model import TriageModel
from classifier.policy import EscalationPolicy


def label_matrix(records: Sequence[Record], labels: Sequence[str]) -> NDArray[np.int_]:
    """Indicator matrix (n, len(labels) + 1); the last column is escalation."""
    y = np.zeros((len(records), len(labels) + 1), dtype=np.int_)
    index = {label: j for j, label in enumerate(labels)}
    for i, record in enumerate(records):
        for dept in record.departments:
            y[i, index[dept]] = 1
        y[i, -1] = int(record.escalate)
    return y


def _binary(truth: NDArray[np.int_], predicted: NDArray[np.int_]) -> dict[str, float]:
    p, r, f, _ = precision_recall_fscore_support(
        truth, predicted, average="binary", zero_division=0
    )
    return {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(truth.sum())}


def metrics(
    truth: NDArray[np.int_],
    predicted: NDArray[np.int_],
    labels: Sequence[str],
    escalation_model: NDArray[np.int_] | None = None,
) -> dict[str, Any]:
    """The report for department columns plus escalation (the last column)."""
    t_dept, p_dept = truth[:, :-1], predicted[:, :-1]
    per_label = {label: _binary(t_dept[:, j], p_dept[:, j]) for j, label in enumerate(labels)}
    report: dict[str, Any] = {
        "records": int(len(truth)),
        "per_label": per_label,
        "micro_f1": float(f1_score(t_dept, p_dept, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(t_dept, p_dept, average="macro", zero_division=0)),
        "subset_accuracy": float(accuracy_score(t_dept, p_dept)),
        "escalation": _binary(truth[:, -1], predicted[:, -1]),
    }
    if escalation_model is not None:
        report["escalation_model_only"] = _binary(truth[:, -1], escalation_model)
    return report


def evaluate(
    model: TriageModel, records: Sequence[Record], policy: EscalationPolicy
) -> dict[str, Any]:
    """Evaluate as the service decides: thresholds per label, then the escalation policy with
    its text signals (and no CRM context, which a labelled dataset does not carry)."""
    labels = list(model.labels)
    truth = label_matrix(records, labels)
    predicted = model.predict([r.text for r in records])
    model_escalation = predicted[:, -1].copy()
    empty = CaseContext()
    for i, row in enumerate(predicted):
        departments = [labels[j] for j in np.flatnonzero(row[:-1])]
        rules = policy.rule_reasons(empty, departments) or policy.signals(records[i].text)
        predicted[i, -1] = int(bool(row[-1]) or bool(rules))
    return metrics(truth, predicted, labels, escalation_model=model_escalation)


def format_report(report: dict[str, Any]) -> str:
    """A fixed-width table for the terminal."""
    lines = [f"{'label':<22}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}"]
    rows = [*report["per_label"].items(), ("escalation", report["escalation"])]
    if "escalation_model_only" in report:
        rows.append(("  (model alone)", report["escalation_model_only"]))
    for label, m in rows:
        lines.append(
            f"{label:<22}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1']:>8.3f}"
            f"{m['support']:>9d}"
        )
    lines.append("")
    lines.append(
        f"micro-F1 {report['micro_f1']:.3f}   macro-F1 {report['macro_f1']:.3f}   "
        f"subset accuracy {report['subset_accuracy']:.3f}   records {report['records']}"
    )
    return "\n".join(lines)
