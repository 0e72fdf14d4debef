"""`complaint-triage score-batch`: offline bulk scoring of JSONL and CSV, streamed in chunks."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from classifier.api.schemas import TriageResponse
from classifier.cli import app
from classifier.cli.scoring import Line, score_lines
from classifier.settings import get_settings
from classifier.store import Store
from classifier.triage import TriageService
from tests.test_api import COMPLAINT

runner = CliRunner()
LATE = "My parcel was due on Monday and it still has not arrived, the tracking has not moved."


@pytest.fixture
def champion(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, models_dir_with_champion: tuple[Path, str]
) -> Iterator[str]:
    models_dir, version = models_dir_with_champion
    monkeypatch.setenv("CT_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("CT_DATABASE_URL", f"sqlite:///{tmp_path / 'db' / 'triage.db'}")
    get_settings.cache_clear()
    yield version
    get_settings.cache_clear()


def score(*args: str) -> tuple[int, list[dict[str, Any]], str]:
    """Run score-batch; its exit code, the output lines and stderr."""
    result = runner.invoke(app, ["score-batch", *args])
    output = Path(args[args.index("--output") + 1])
    lines = [json.loads(x) for x in output.read_text().splitlines()] if output.exists() else []
    return result.exit_code, lines, result.stderr


def test_jsonl_is_scored_in_order_with_a_bad_line_reported_in_its_place(
    champion: str, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    rows = [
        json.dumps({"id": "a", "text": COMPLAINT, "tier": "vip", "departments": ["finance"]}),
        json.dumps({"id": "b", "text": "   "}),
        "{not json",
        "",
        json.dumps(["a list"]),
        json.dumps({"id": 7, "text": LATE, "amount": {"value": 1500, "currency": "GBP"}}),
        json.dumps({"text": LATE, "case_ref": "CRM-9", "amount": 20, "currency": "USD"}),
    ]
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, lines, stderr = score("--input", str(source), "--output", str(tmp_path / "out.jsonl"))
    assert code == 0, stderr
    assert [x["line"] for x in lines] == [1, 2, 3, 5, 6, 7]  # the blank line 4 is skipped
    assert [x.get("id") for x in lines] == ["a", "b", None, None, 7, None]
    assert lines[1]["error"] == "text: must contain the complaint, not only whitespace"
    assert lines[2]["error"].startswith("not valid JSON")
    assert lines[3]["error"] == "a JSON object is needed, not list"
    for line in (lines[0], lines[4], lines[5]):
        # the API's triage response, plus line and id
        TriageResponse.model_validate({k: v for k, v in line.items() if k not in ("line", "id")})
        assert line["model_version"] == champion and "error" not in line
    assert "customer tier is vip" in lines[0]["escalation"]["reasons"]
    assert (
        "amount 1,500.00 GBP is at or over the limit of 1,000" in lines[4]["escalation"]["reasons"]
    )
    assert lines[5]["case_ref"] == "CRM-9" and "CRM-9" in lines[5]["customer_message"]["body"]
    assert "6 lines: 3 scored, 3 errors in" in stderr and "rows/s" in stderr
    assert "100%" in stderr and "6 lines" in stderr  # the progress bar reached the end
    assert not (tmp_path / "db").exists()  # offline scoring stores nothing by default


def test_csv_with_a_header_quoted_newlines_and_empty_cells(champion: str, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    with source.open("w", encoding="utf-8-sig", newline="") as handle:  # with a BOM, as Excel
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "tier", "previous_contacts", "amount", "currency", "x"])
        writer.writerow(["r1", COMPLAINT + "\n\nThanks,\nAna", "vip", "", "", "", "ignored"])
        writer.writerow(["r2", LATE, "", "many", "", "", ""])
        writer.writerow(["r3", LATE, "", "4", "1250.5", "GBP", ""])
    code, lines, stderr = score("--input", str(source), "--output", str(tmp_path / "out.jsonl"))
    assert code == 0, stderr
    # a record's line is where it starts in the file: r1's text spans lines 2 to 5
    assert [(x["line"], x["id"]) for x in lines] == [(2, "r1"), (6, "r2"), (7, "r3")]
    assert lines[0]["customer_message"]["body"]
    assert "customer tier is vip" in lines[0]["escalation"]["reasons"]
    assert lines[1]["error"].startswith("previous_contacts: Input should be a valid integer")
    reasons = lines[2]["escalation"]["reasons"]
    assert "amount 1,250.50 GBP is at or over the limit of 1,000" in reasons
    assert "customer has contacted us 4 times before" in reasons
    assert "3 lines: 2 scored, 1 errors" in stderr


def test_no_drafts_gives_the_classification_only(champion: str, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": COMPLAINT}) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code, [line], _ = score("--input", str(source), "--output", str(out), "--no-drafts")
    assert code == 0
    assert set(line) == {
        "line", "id", "model_version", "departments", "probabilities", "escalation",
        "needs_review", "review_reasons", "language",
    }  # fmt: skip
    assert "finance" in [d["id"] for d in line["departments"]]


def test_store_saves_every_scored_line(champion: str, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        "".join(json.dumps({"text": t, "case_ref": f"S-{i}"}) + "\n"
                for i, t in enumerate([COMPLAINT, " ", LATE])),
        encoding="utf-8",
    )  # fmt: skip
    code, lines, _ = score(
        "--input", str(source), "--output", str(tmp_path / "out.jsonl"), "--store"
    )
    assert code == 0
    store = Store.open(get_settings().database_url)
    try:
        stored = {t.case_ref: t for t in store.triages()}
        assert sorted(stored) == ["S-0", "S-2"]
        assert stored["S-2"].id == lines[2]["triage_id"] and stored["S-2"].text == LATE
    finally:
        store.close()


@pytest.mark.parametrize(
    ("name", "content", "extra", "message"),
    [
        ("in.txt", "text\nhello\n", [], "must be a .jsonl or a .csv file"),
        ("missing.jsonl", None, [], "No such file or directory"),
        ("in.csv", "body,id\nhello,1\n", [], "the CSV header has no `text` column"),
        ("in.jsonl", '{"text": "hi"}\n', ["--store", "--no-drafts"], "--store needs the drafts"),
        ("in.jsonl", '{"text": "hi"}\n', ["--model", "no-such-version"], "no-such-version"),
    ],
)
def test_input_that_cannot_be_read_exits_1_without_writing(
    champion: str, tmp_path: Path, name: str, content: str | None, extra: list[str], message: str
) -> None:
    source = tmp_path / name
    if content is not None:
        source.write_text(content, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code, lines, stderr = score("--input", str(source), "--output", str(out), *extra)
    assert code == 1 and message in stderr
    assert not out.exists()


def test_output_is_written_chunk_by_chunk_before_the_input_ends(service: TriageService) -> None:
    output = io.StringIO()
    written_when_read: dict[int, int] = {}

    def lines() -> Iterator[Line]:
        for number in range(1, 36):
            written_when_read[number] = output.getvalue().count("\n")
            yield Line(number, {"id": number, "text": f"{LATE} Order {number}."})

    tally = score_lines(lines(), service, output, drafts=False, chunk_size=10)
    assert (tally.lines, tally.scored, tally.errors) == (35, 35, 0)
    # while line 31 was being read, the first three chunks were already out
    assert written_when_read[31] == 30 and written_when_read[10] == 0
    assert [json.loads(x)["id"] for x in output.getvalue().splitlines()] == list(range(1, 36))


@pytest.mark.slow
def test_a_20000_line_file_streams_through(champion: str, tmp_path: Path) -> None:
    source = tmp_path / "big.jsonl"
    with source.open("w", encoding="utf-8") as handle:
        for number in range(20_000):
            text = [LATE, "refund me, I was charged twice", "the app crashes on login"][number % 3]
            handle.write(json.dumps({"id": number, "text": f"{text} (ticket {number})"}) + "\n")
    out = tmp_path / "out.jsonl"
    code, lines, stderr = score("--input", str(source), "--output", str(out), "--no-drafts")
    assert code == 0, stderr
    assert [x["id"] for x in lines] == list(range(20_000))
    assert "20000 lines: 20000 scored, 0 errors" in stderr and "100%" in stderr
