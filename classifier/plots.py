"""Figures for the evaluation report, as PNG bytes (matplotlib, no display, no downloads)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.metrics import precision_recall_curve  # noqa: E402

from classifier.report import Scored  # noqa: E402


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def _grid(labels: Sequence[str]) -> tuple[Any, list[Any]]:
    figure, axes = plt.subplots(2, 5, figsize=(16, 6.6))
    flat = list(axes.ravel())
    for axis in flat[len(labels) :]:
        axis.axis("off")
    return figure, flat


def precision_recall(scored: Scored) -> bytes:
    labels = [*scored.labels, "escalate"]
    figure, axes = _grid(labels)
    for j, (label, axis) in enumerate(zip(labels, axes, strict=False)):
        precision, recall, cuts = precision_recall_curve(scored.truth[:, j], scored.proba[:, j])
        axis.plot(recall, precision)
        at = np.searchsorted(cuts, scored.thresholds[j]).clip(0, len(cuts) - 1)
        axis.plot(recall[at], precision[at], "o", color="crimson", label="threshold")
        axis.set_title(label, fontsize=10)
        axis.set_xlim(0, 1), axis.set_ylim(0, 1.02)
        axis.set_xlabel("recall", fontsize=8), axis.set_ylabel("precision", fontsize=8)
    axes[0].legend(fontsize=8, loc="lower left")
    return _png(figure)


def calibration(scored: Scored, ece: dict[str, float]) -> bytes:
    labels = [*scored.labels, "escalate"]
    figure, axes = _grid(labels)
    for j, (label, axis) in enumerate(zip(labels, axes, strict=False)):
        observed, predicted = calibration_curve(
            scored.truth[:, j], scored.proba[:, j], n_bins=10, strategy="uniform"
        )
        axis.plot([0, 1], [0, 1], ":", color="grey")
        axis.plot(predicted, observed, "o-")
        axis.set_title(f"{label} (ECE {ece[label]:.3f})", fontsize=10)
        axis.set_xlim(0, 1), axis.set_ylim(0, 1)
        axis.set_xlabel("predicted probability", fontsize=8)
        axis.set_ylabel("observed rate", fontsize=8)
    return _png(figure)


def coverage(rows: Sequence[dict[str, float]]) -> bytes:
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot([r["coverage"] for r in rows], [r["accuracy"] for r in rows], "o-")
    for r in rows:
        axis.annotate(f"±{r['margin']:.2f}", (r["coverage"], r["accuracy"]), fontsize=8,
                      textcoords="offset points", xytext=(4, 4))  # fmt: skip
    axis.set_xlabel("coverage (share not flagged for review)")
    axis.set_ylabel("subset accuracy on the confident cases")
    axis.set_title("needs_review: coverage vs accuracy by margin")
    axis.grid(alpha=0.3)
    return _png(figure)


def confusion(matrix: Sequence[Sequence[int]], labels: Sequence[str]) -> bytes:
    figure, axis = plt.subplots(figsize=(7.5, 6.5))
    data = np.asarray(matrix)
    axis.imshow(data, cmap="Oranges")
    short = [label.split("_")[0] for label in labels]
    axis.set_xticks(range(len(labels)), short, rotation=45, ha="right")
    axis.set_yticks(range(len(labels)), short)
    for (i, j), value in np.ndenumerate(data):
        if value:
            axis.text(j, i, str(value), ha="center", va="center", fontsize=8)
    axis.set_xlabel("predicted instead (not needed)")
    axis.set_ylabel("needed but missed")
    axis.set_title("Which department is mistaken for which")
    return _png(figure)
