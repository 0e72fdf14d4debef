"""Writes the evaluation report as one self-contained HTML file (images embedded)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from classifier import plots
from classifier.report import compare


def write_report(
    directory: Path,
    summary: dict[str, Any],
    *,
    data: str,
    templates_dir: Path,
    baseline: dict[str, Any] | None = None,
) -> Path:
    """Write DIR/index.html (and the figures as PNG files beside it); return its path."""
    scored = summary["scored"]
    figures = {
        "precision_recall": plots.precision_recall(scored),
        "calibration": plots.calibration(scored, summary["ece"]),
        "coverage": plots.coverage(summary["coverage"]),
        "confusion": plots.confusion(summary["confusions"], scored.labels),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name, png in figures.items():
        (directory / f"{name}.png").write_bytes(png)
    env = Environment(
        loader=FileSystemLoader(str(templates_dir / "report")),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
    )
    page = env.get_template("index.html.j2").render(
        version=summary["version"],
        data=data,
        created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        metrics=summary["metrics"],
        thresholds=summary["thresholds"],
        ece=summary["ece"],
        coverage=summary["coverage"],
        worst=summary["worst"],
        images={k: base64.b64encode(v).decode() for k, v in figures.items()},
        comparison=compare(baseline, summary) if baseline else None,
        other_version=baseline["version"] if baseline else None,
    )
    index = directory / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
