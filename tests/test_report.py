"""The evaluation report: its numbers on hand-made cases, and the files it writes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from classifier.cli import app
from classifier.report import Scored, confusions, coverage_curve, expected_calibration_error
from classifier.settings import get_settings

runner = CliRunner()


def test_expected_calibration_error_of_perfect_and_overconfident_scores() -> None:
    truth = np.array([0, 0, 1, 1])
    assert expected_calibration_error(truth, np.array([0.0, 0.0, 1.0, 1.0])) == 0.0
    # all at 0.95 while half are positive: |0.5 - 0.95| in the one bin used
    assert expected_calibration_error(truth, np.full(4, 0.95)) == pytest.approx(0.45)


def scored() -> Scored:
    truth = np.array([[1, 0, 0], [0, 1, 1], [1, 0, 0], [0, 1, 0]])
    proba = np.array([[0.9, 0.1, 0.1], [0.2, 0.55, 0.9], [0.3, 0.8, 0.1], [0.1, 0.9, 0.2]])
    return Scored(["a", "b"], truth, proba, np.array([0.5, 0.5, 0.5]))


def test_confusions_count_a_missed_department_against_the_one_predicted_instead() -> None:
    # item 3 needed "a" and got "b" instead
    assert confusions(scored()).tolist() == [[0, 1], [0, 0]]


def test_coverage_falls_and_accuracy_rises_as_the_review_margin_widens() -> None:
    zero, wide = coverage_curve(scored(), [0.0, 0.1])
    assert zero["coverage"] == 1.0 and zero["accuracy"] == 0.75
    assert wide["coverage"] == 0.75  # item 2 (0.55 near 0.5) is flagged
    assert wide["accuracy"] == pytest.approx(2 / 3)


def test_evaluate_report_writes_a_self_contained_page(
    monkeypatch: pytest.MonkeyPatch, models_dir_with_champion: tuple[Path, str], tmp_path: Path
) -> None:
    models_dir, version = models_dir_with_champion
    monkeypatch.setenv("CT_MODELS_DIR", str(models_dir))
    get_settings.cache_clear()
    try:
        out = tmp_path / "report"
        result = runner.invoke(
            app, ["evaluate", "--report", str(out), "--compare", version, version]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    page = (out / "index.html").read_text(encoding="utf-8")
    for heading in ("Per label", f"Compared with {version}", "Precision-recall curves",
                    "Calibration", "coverage vs accuracy", "Confusion between departments",
                    "worst errors"):  # fmt: skip
        assert heading in page, heading
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 4 and all(len(i) > 1000 for i in images)
    assert 'src="http' not in page and "<script" not in page  # opens from disk, offline
    for name in ("precision_recall", "calibration", "coverage", "confusion"):
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert page.count("<tr><td>c-") == 25  # the worst errors, with their ids
