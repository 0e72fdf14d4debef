"""Training a TriageModel from the labelled data and describing it for machines and people."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from classifier.catalogue import DEPARTMENT_IDS
from classifier.data import Record, sha256_of
from classifier.evaluation import evaluate, label_matrix, metrics
from classifier.model import TriageModel
from classifier.policy import EscalationPolicy
from classifier.registry import library_versions
from classifier.settings import Settings


def _counts(records: list[Record]) -> dict[str, Any]:
    return {
        "records": len(records),
        "positives": {d: sum(d in r.departments for r in records) for d in DEPARTMENT_IDS},
        "escalate": sum(r.escalate for r in records),
        "no_department": sum(not r.departments for r in records),
    }


def new_model(settings: Settings) -> TriageModel:
    """The default, untrained model for these settings."""
    return TriageModel(random_state=settings.seed)


def train_model(
    train: list[Record],
    test: list[Record],
    settings: Settings,
    progress: Callable[[str], None] | None = None,
) -> tuple[TriageModel, dict[str, Any]]:
    """Fit on `train`, measure on the frozen `test`, and return the model and its metadata."""
    model = new_model(settings)
    y = label_matrix(train, DEPARTMENT_IDS)
    model.fit([r.text for r in train], y, progress=progress)
    policy = EscalationPolicy.of(settings)
    oof_predicted = (model.oof_proba_ >= model.all_thresholds_).astype(np.int_)
    y = y[model.cv_rows_]
    metadata = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": settings.seed,
        "solver": model.solver_,
        "calibration": {
            label: {"a": float(a), "b": float(b)}
            for label, (a, b) in zip([*DEPARTMENT_IDS, "escalate"], model.calibration_, strict=True)
        },
        "params": {k: _plain(v) for k, v in model.get_params().items()},
        "labels": list(DEPARTMENT_IDS),
        "thresholds": {d: float(t) for d, t in zip(DEPARTMENT_IDS, model.thresholds_, strict=True)},
        "escalation_threshold": float(model.escalation_threshold_),
        "training_data": {
            "path": str(settings.training_data),
            "sha256": sha256_of([settings.training_data]),
            **_counts(train),
        },
        "test_data": {
            "path": str(settings.test_data),
            "sha256": sha256_of([settings.test_data]) if test else None,
            **_counts(test),
        },
        "cross_validation": metrics(y, oof_predicted, DEPARTMENT_IDS),
        "test_metrics": evaluate(model, test, policy) if test else None,
        "libraries": library_versions(),
    }
    return model, metadata


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _feedback_line(feedback: dict[str, Any] | None) -> list[str]:
    if not feedback:
        return []
    return [
        f"- Of those, {feedback['records']} are agents' corrected triages (feedback; "
        f"{feedback['replaced_training_records']} replaced a training record with the same "
        f"text, {feedback['left_out_in_test_set']} left out because the test set holds them)."
    ]


def model_card(metadata: dict[str, Any]) -> str:
    """A short human-readable description of a trained model."""
    train, test = metadata["training_data"], metadata["test_data"]
    lines = [
        f"# Model card: {metadata['version']}",
        "",
        f"Created {metadata['created']} by complaint-triage "
        f"{metadata['libraries']['complaint-triage']}, seed {metadata['seed']}.",
        "",
        "## What it does",
        "Reads one customer complaint and predicts which of nine departments must act on it "
        "(multi-label) and whether the case must be escalated. Word (1-2 gram) and character "
        "(3-5 gram) TF-IDF features; one logistic-regression classifier per department and "
        f"one for escalation (fitted with {metadata.get('solver', 'liblinear')}). "
        "Probabilities are calibrated by Platt scaling on cross-validated scores; each "
        "department's threshold maximises F1 on those scores, and the escalation threshold "
        "is the highest that keeps cross-validated recall at 0.90.",
        "",
        "## Data",
        f"- Training: {train['records']} complaints (sha256 {train['sha256'][:12]}…), "
        f"{train['escalate']} escalated, {train['no_department']} with no department.",
        *_feedback_line(metadata.get("feedback")),
        f"- Frozen test set: {test['records']} complaints, never trained on.",
        "",
        "## Thresholds and results on the frozen test set",
        "",
        "| label | threshold | train positives | precision | recall | F1 | support |",
        "|---|---|---|---|---|---|---|",
    ]
    results = metadata.get("test_metrics") or {}
    per_label = results.get("per_label", {})
    for label in metadata["labels"]:
        m = per_label.get(label)
        scores = (
            f"{m['precision']:.2f} | {m['recall']:.2f} | {m['f1']:.2f} | {m['support']}"
            if m
            else "- | - | - | -"
        )
        lines.append(
            f"| {label} | {metadata['thresholds'][label]:.2f} | "
            f"{train['positives'][label]} | {scores} |"
        )
    if results:
        esc = results["escalation"]
        lines.append(
            f"| escalation (with policy) | {metadata['escalation_threshold']:.2f} | "
            f"{train['escalate']} | {esc['precision']:.2f} | {esc['recall']:.2f} | "
            f"{esc['f1']:.2f} | {esc['support']} |"
        )
        lines += [
            "",
            f"Macro-F1 {results['macro_f1']:.3f}, micro-F1 {results['micro_f1']:.3f}, "
            f"subset accuracy {results['subset_accuracy']:.3f}.",
        ]
    lines += [
        "",
        "## Limits",
        "- English complaints only; the training data is written for this project.",
        "- Calibration is learned from cross-validated scores of models fitted on 80% of the",
        "  data; the final model, fitted on all of it, can be a little more confident.",
        "- The escalation figures on the test set use no CRM context (tier, contacts, amount);",
        "  in service those rules add escalations.",
        "",
        "## Libraries",
        *[f"- {name} {version}" for name, version in metadata["libraries"].items()],
        "",
    ]
    return "\n".join(lines)
