"""Importing a CRM export: every bad row reported with its row and column, nothing dropped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from classifier.cli import app
from classifier.data import check_paths
from classifier.importer import Columns, MappingError, convert, load_mapping

FIXTURES = Path(__file__).parent / "fixtures"
EXPORT = FIXTURES / "crm_export.csv"
MAPPING = FIXTURES / "crm_mapping.toml"
COLUMNS = Columns("Complaint body", "Teams", "Escalated", "Ticket", "Sector", "Source")
runner = CliRunner()


def test_every_bad_row_is_reported_with_row_and_column() -> None:
    records, problems = convert(EXPORT, "csv", COLUMNS, load_mapping(MAPPING), "crm")
    assert [str(p).removeprefix(f"{EXPORT}:") for p in problems] == [
        "6: Complaint body: required, a non-empty string",
        "7: Escalated: 'maybe' is neither a true nor a false value",
        "8: Teams: unknown department name 'Warehouse'; add it to the mapping file",
        "10: Ticket: 'T-100' repeats the id of row 2",
        "11: Complaint body: near-duplicate of row 2 (word TF-IDF cosine 1.00)",
        "12: row: 1 more cell(s) than the header has columns",
    ]
    # rows 2, 3, 4, 5, 9 are valid; rows 10 and 11 are valid records but clash with row 2
    assert [r["id"] for r in records] == [
        "T-100",
        "T-101",
        "T-102",
        "T-103",
        "T-107",
        "T-100",
        "T-109",
    ]


def test_valid_rows_become_training_records() -> None:
    records, _ = convert(EXPORT, "csv", COLUMNS, load_mapping(MAPPING), "crm")
    by_id = {r["id"]: r for r in records[:5]}
    assert by_id["T-101"] == {
        "id": "T-101",
        "text": "The app logs me out every five minutes since the update, "
        "and support has not replied.",
        "departments": ["engineering_qc", "technical_support"],
        "escalate": False,
        "industry": "software_saas",
        "channel": "chat",
    }
    assert by_id["T-102"]["departments"] == ["finance", "logistics_operations"]
    assert by_id["T-103"]["departments"] == []  # "General enquiry" maps to no department


def test_department_ids_are_accepted_without_a_mapping(tmp_path: Path) -> None:
    source = tmp_path / "export.jsonl"
    source.write_text(
        json.dumps({"t": "refund please", "d": ["finance"], "e": False}) + "\n"
        + "{broken\n"
        + json.dumps({"t": "lost parcel", "d": "logistics_operations", "e": "yes"}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    records, problems = convert(source, "jsonl", Columns("t", "d", "e"), load_mapping(None), "x")
    assert [str(p) for p in problems] == [
        f"{source}:2: row: not valid JSON: Expecting property name enclosed in double quotes"
    ]
    assert [r["id"] for r in records] == ["x-1", "x-3"]
    assert records[1]["escalate"] is True


def test_missing_column_is_named(tmp_path: Path) -> None:
    source = tmp_path / "e.csv"
    source.write_text("text,teams\nhello,Billing\n", encoding="utf-8")
    _, problems = convert(
        source, "csv", Columns("text", "teams", "escalated"), load_mapping(MAPPING), "e"
    )
    assert (
        str(problems[0]) == f"{source}:2: escalated: column not found; the row has 'text', 'teams'"
    )


def test_mapping_to_an_unknown_id_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "map.toml"
    bad.write_text('[departments]\n"Billing" = "billing"\n', encoding="utf-8")
    with pytest.raises(MappingError, match="'billing' is not a department id"):
        load_mapping(bad)


def test_cli_writes_nothing_and_exits_1_on_bad_rows(tmp_path: Path) -> None:
    # A long path: messages must not be wrapped whatever the terminal width.
    export = tmp_path / ("deep-" * 20) / "crm_export.csv"
    export.parent.mkdir()
    export.write_bytes(EXPORT.read_bytes())
    output = tmp_path / "out.jsonl"
    result = runner.invoke(app, [
        "import", str(export), "--text-column", "Complaint body", "--departments-column", "Teams",
        "--escalate-column", "Escalated", "--id-column", "Ticket", "--mapping", str(MAPPING),
        "--output", str(output),
    ])  # fmt: skip
    assert result.exit_code == 1
    assert f"{export}:8: Teams: unknown department name 'Warehouse'" in result.output
    assert f"6 problem(s) in {export}; nothing written" in result.output
    assert not output.exists()


def test_cli_output_passes_data_check(tmp_path: Path) -> None:
    clean = tmp_path / "clean.csv"
    clean.write_text(
        "".join(EXPORT.read_text(encoding="utf-8").splitlines(keepends=True)[:5]), "utf-8"
    )
    output = tmp_path / "out.jsonl"
    result = runner.invoke(app, [
        "import", str(clean), "--format", "csv", "--text-column", "Complaint body",
        "--departments-column", "Teams", "--escalate-column", "Escalated",
        "--mapping", str(MAPPING), "--industry-column", "Sector", "--channel-column", "Source",
        "--output", str(output),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "imported 4 record(s)" in result.output
    records, problems = check_paths([output], near_duplicates=0.9)
    assert problems == [] and [r.id for r in records] == [
        "clean-2",
        "clean-3",
        "clean-4",
        "clean-5",
    ]
    check = runner.invoke(app, ["data", "check", str(output)])
    assert check.exit_code == 0 and check.output.startswith("ok: 4 record(s)")
