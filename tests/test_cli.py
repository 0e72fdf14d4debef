"""The command line through Typer's CliRunner."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from classifier import registry
from classifier.catalogue import DEPARTMENT_IDS
from classifier.cli import app
from classifier.data import Record
from classifier.settings import Settings, get_settings

runner = CliRunner()


@pytest.fixture
def champion_env(
    monkeypatch: pytest.MonkeyPatch, models_dir_with_champion: tuple[Path, str]
) -> Iterator[str]:
    models_dir, version = models_dir_with_champion
    monkeypatch.setenv("CT_MODELS_DIR", str(models_dir))
    get_settings.cache_clear()
    yield version
    get_settings.cache_clear()


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "train", "evaluate", "predict", "data"):
        assert command in result.output


def test_predict_text_argument_prints_one_json_line(champion_env: str) -> None:
    result = runner.invoke(app, ["predict", "I was charged twice, please refund me"])
    assert result.exit_code == 0, result.output
    line = json.loads(result.output)
    assert set(line) == {
        "id",
        "departments",
        "escalate",
        "probabilities",
        "needs_review",
        "model_version",
    }
    assert "finance" in line["departments"]
    assert set(line["probabilities"]) == {*DEPARTMENT_IDS, "escalate"}
    assert line["model_version"] == champion_env


def test_predict_reads_stdin(champion_env: str) -> None:
    result = runner.invoke(app, ["predict"], input="my parcel never arrived, tracking stuck\n")
    assert result.exit_code == 0, result.output
    assert "logistics_operations" in json.loads(result.output)["departments"]


def test_predict_input_file_keeps_ids_and_uses_context(champion_env: str, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        json.dumps({"id": "a", "text": "refund please, charged twice"})
        + "\n"
        + json.dumps({"id": "b", "text": "the app will not open", "tier": "vip"})
        + "\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["predict", "--input", str(source)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["id"] for line in lines] == ["a", "b"]
    assert lines[1]["escalate"] is True  # vip tier from the record's context


def test_predict_input_file_with_bad_line_names_file_and_line(
    champion_env: str, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "ok"}\n{"id": "b"}\n', encoding="utf-8")
    result = runner.invoke(app, ["predict", "--input", str(source)])
    assert result.exit_code == 1
    assert f"{source}:2: text: required" in result.output


def test_predict_without_model_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CT_MODELS_DIR", str(tmp_path))
    get_settings.cache_clear()
    result = runner.invoke(app, ["predict", "hello"])
    get_settings.cache_clear()
    assert result.exit_code == 1
    assert "no champion model" in result.output


def test_data_check_reports_file_line_field_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "c-1", "text": "x", "departments": ["finance"], "escalate": false}\n'
        '{"id": "c-2", "text": "y", "departments": ["billing"], "escalate": false}\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["data", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:2: departments: unknown department id 'billing'" in result.output


def test_data_check_accepts_the_shipped_data(project_settings: Settings) -> None:
    result = runner.invoke(app, ["data", "check", str(project_settings.training_data.parent)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: ")


def test_train_writes_a_version_that_becomes_champion_then_evaluate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_records: list[Record]
) -> None:
    data = tmp_path / "train.jsonl"
    test = tmp_path / "test.jsonl"
    rows = [
        json.dumps(
            {"id": r.id, "text": r.text, "departments": list(r.departments), "escalate": r.escalate}
        )
        for r in tiny_records
    ]
    data.write_text("\n".join(rows[:240]) + "\n", encoding="utf-8")
    test.write_text("\n".join(rows[240:]) + "\n", encoding="utf-8")
    models_dir = tmp_path / "models"
    monkeypatch.setenv("CT_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("CT_TEST_DATA", str(test))
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["train", "--data", str(data)])
        assert result.exit_code == 0, result.output
        version = registry.champion(models_dir)
        assert version and f"trained {version}" in result.output and "now champion" in result.output
        # the progress bar ends on the final fit, every step done (cross-validation folds too)
        assert re.search(r"final fit .*━+ (\d+)/\1", result.output), result.output
        metadata = registry.read_metadata(models_dir, version)
        assert metadata["training_data"]["records"] == 240
        assert metadata["test_data"]["records"] == 60
        assert set(metadata["thresholds"]) == set(DEPARTMENT_IDS)
        assert metadata["libraries"]["scikit-learn"]
        assert "## Thresholds" in (models_dir / version / "card.md").read_text()

        again = runner.invoke(app, ["train", "--if-missing"])
        assert again.exit_code == 0 and "exists; not training" in again.output
        assert registry.versions(models_dir) == [version]

        # An unusable champion (here an artefact of an older format) is trained over.
        path = models_dir / version / registry.METADATA
        path.write_text(json.dumps({**json.loads(path.read_text()), "model_format": 1}))
        third = runner.invoke(app, ["train", "--if-missing", "--data", str(data)])
        assert third.exit_code == 0, third.output
        assert "not usable" in third.output and "now champion" in third.output
        version = registry.champion(models_dir)
        assert version and len(registry.versions(models_dir)) == 2

        report_path = tmp_path / "report.json"
        result = runner.invoke(app, ["evaluate", "--json", str(report_path)])
        assert result.exit_code == 0, result.output
        assert "macro-F1" in result.output and "escalation" in result.output
        report = json.loads(report_path.read_text())
        assert report["model_version"] == version and report["records"] == 60
        assert report["macro_f1"] == pytest.approx(metadata["test_metrics"]["macro_f1"])
    finally:
        get_settings.cache_clear()


def test_data_stats_prints_composition_tables(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text(
        '{"id": "c-1", "text": "refund??", "departments": ["finance"], "escalate": false,'
        ' "channel": "chat", "tags": ["very_short"]}\n'
        '{"id": "c-2", "text": "my lawyer will call", "departments": ["legal_compliance"],'
        ' "escalate": true, "channel": "email"}\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["data", "stats", str(data)])
    assert result.exit_code == 0, result.output
    assert "escalate       1 (50.0%)" in result.output
    assert "very_short" in result.output and "1-12 words" in result.output
    markdown = runner.invoke(app, ["data", "stats", str(data), "--markdown"]).output
    assert "| finance | 1 (50.0%) |" in markdown


def test_data_stats_update_needs_the_markers(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text('{"id": "c-1", "text": "x", "departments": [], "escalate": false}\n', "utf-8")
    sheet = tmp_path / "README.md"
    sheet.write_text("# no markers\n", encoding="utf-8")
    result = runner.invoke(app, ["data", "stats", str(data), "--update", str(sheet)])
    assert result.exit_code == 1 and "stats:begin" in result.output
