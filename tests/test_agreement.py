"""Inter-labeller agreement: Cohen's kappa per label and the list of disagreements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from classifier.agreement import agreement
from classifier.cli import app
from classifier.data import Record

runner = CliRunner()


def rec(i: str, departments: tuple[str, ...], escalate: bool = False) -> Record:
    return Record(i, f"complaint {i}", departments, escalate)


FIRST = [rec("a", ("finance",)), rec("b", ("finance",)), rec("c", ()), rec("d", ())]
SECOND = [rec("a", ("finance",)), rec("b", ()), rec("c", ()), rec("d", (), True), rec("z", ())]


def test_kappa_per_label_on_shared_ids() -> None:
    results, disagreements, shared = agreement(FIRST, SECOND)
    assert shared == 4  # "z" was labelled by one labeller only
    finance = next(r for r in results if r.label == "finance")
    # observed 3/4; expected 0.5*0.25 + 0.5*0.75 = 0.5; kappa = (0.75 - 0.5) / 0.5
    assert finance.kappa == pytest.approx(0.5)
    assert finance.agreement == 0.75 and (finance.first_positives, finance.second_positives) == (
        2,
        1,
    )
    sales = next(r for r in results if r.label == "sales")
    assert sales.kappa == 1.0 and sales.agreement == 1.0  # never used by either
    assert [(d.id, d.labels()) for d in disagreements] == [("b", ["finance"]), ("d", ["escalate"])]


def test_cli_prints_the_table_and_disagreements(tmp_path: Path) -> None:
    def write(name: str, records: list[Record]) -> Path:
        path = tmp_path / name
        rows = [{"id": r.id, "text": r.text, "departments": list(r.departments),
                 "escalate": r.escalate} for r in records]  # fmt: skip
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")
        return path

    first, second = write("first.jsonl", FIRST), write("second.jsonl", SECOND)
    result = runner.invoke(app, ["data", "agreement", str(first), str(second), "--disagreements"])
    assert result.exit_code == 0, result.output
    assert "finance" in result.output and "0.50" in result.output
    assert "4 complaints labelled by both; 2 differ" in result.output
    assert "d: escalate" in result.output
    markdown = runner.invoke(app, ["data", "agreement", str(first), str(second), "--markdown"])
    assert "| finance | 0.50 | 75.0% | 2 | 1 |" in markdown.output
