"""Dataset validation, and the shape the shipped data must keep."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from classifier.catalogue import DEPARTMENT_IDS
from classifier.data import TAGS, DatasetError, Record, check_paths, load_records, sha256_of
from classifier.settings import Settings

GOOD = {"id": "c-1", "text": "refund??", "departments": ["finance"], "escalate": False}


def write(path: Path, *lines: object) -> Path:
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("line", "field", "problem"),
    [
        ("{not json", "line", "not valid JSON"),
        ("[1, 2]", "line", "must be a JSON object"),
        ({**GOOD, "text": "   "}, "text", "non-empty string"),
        ({k: v for k, v in GOOD.items() if k != "id"}, "id", "required"),
        ({**GOOD, "escalate": "yes"}, "escalate", "true or false"),
        ({**GOOD, "departments": ["billing"]}, "departments", "unknown department id 'billing'"),
        ({**GOOD, "departments": ["sales", "finance"]}, "departments", "sorted"),
        ({**GOOD, "departments": ["finance", "finance"]}, "departments", "duplicate"),
        ({**GOOD, "departments": ["senior_management"]}, "escalate", "must be true"),
        ({**GOOD, "channel": "pigeon"}, "channel", "unknown value 'pigeon'"),
        ({**GOOD, "labels": []}, "labels", "unknown field"),
        ({**GOOD, "tags": ["sarcasm", "decoy"]}, "tags", "sorted"),
        ({**GOOD, "tags": ["spicy"]}, "tags", "unknown tag 'spicy'"),
    ],
)
def test_each_problem_is_reported_with_file_line_and_field(
    tmp_path: Path, line: object, field: str, problem: str
) -> None:
    path = write(tmp_path / "data.jsonl", GOOD | {"id": "c-0"}, line)
    records, problems = check_paths([path])
    assert len(records) == 1
    assert len(problems) == 1
    assert str(problems[0]).startswith(f"{path}:2: {field}: ")
    assert problem in problems[0].problem


def test_duplicate_ids_within_and_across_files_are_reported(tmp_path: Path) -> None:
    first = write(tmp_path / "a.jsonl", GOOD, {**GOOD, "text": "again"})
    second = write(tmp_path / "b.jsonl", {**GOOD, "text": "third"})
    _, problems = check_paths([first, second])
    assert [str(p) for p in problems] == [
        f"{first}:2: id: duplicate of line 1",
        f"{second}:1: id: 'c-1' also used in {first}",
    ]


def test_invalid_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"id": "c-1", "text": "caf\xe9"}\n')
    _, problems = check_paths([path])
    assert str(problems[0]) == f"{path}:1: line: not valid UTF-8"


def test_load_records_raises_with_every_problem(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", {**GOOD, "escalate": 1}, {**GOOD, "id": "c-2", "text": ""})
    with pytest.raises(DatasetError) as caught:
        load_records(path)
    assert len(caught.value.problems) == 2


def test_fingerprint_changes_when_a_byte_changes(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", GOOD)
    before = sha256_of([path])
    write(path, {**GOOD, "escalate": True})
    assert sha256_of([path]) != before


# -- the shipped data ----------------------------------------------------------------------


def test_shipped_training_and_test_data_are_valid(project_settings: Settings) -> None:
    records, problems = check_paths([project_settings.training_data.parent])
    assert problems == []
    assert len(records) >= 750


PLAUSIBLE_PAIRS = [
    ("finance", "legal_compliance"), ("finance", "logistics_operations"),
    ("engineering_qc", "technical_support"), ("marketing_pr", "senior_management"),
    ("finance", "sales"), ("marketing_pr", "sales"), ("engineering_qc", "legal_compliance"),
    ("legal_compliance", "marketing_pr"), ("logistics_operations", "sales"),
    ("marketing_pr", "product_management"),
]  # fmt: skip


def test_training_data_has_the_promised_composition(
    project_settings: Settings, train_records: list[Record]
) -> None:
    everything = train_records + load_records(project_settings.test_data)
    assert len(everything) >= 3000
    positives = Counter(d for r in train_records for d in r.departments)
    assert {d: positives[d] for d in DEPARTMENT_IDS if positives[d] < 250} == {}
    share = sum(r.escalate for r in train_records) / len(train_records)
    assert 0.25 <= share <= 0.40
    assert sum(not r.departments for r in train_records) / len(train_records) >= 0.05
    pairs = Counter(
        (a, b) for r in everything for a in r.departments for b in r.departments if a < b
    )
    assert {p: pairs[p] for p in PLAUSIBLE_PAIRS if pairs[p] < 20} == {}
    tags = Counter(t for r in everything for t in r.tags)
    assert {t: tags[t] for t in TAGS if tags[t] < 60} == {}
    assert len({r.industry for r in everything}) >= 12
    assert len({r.channel for r in everything}) == 6
    lengths = sorted(len(r.text.split()) for r in train_records)
    assert lengths[0] <= 3 and lengths[-1] >= 300


def test_test_set_is_separate_from_training(
    project_settings: Settings, train_records: list[Record]
) -> None:
    test = load_records(project_settings.test_data)
    assert len(test) >= 500
    assert not {r.id for r in test} & {r.id for r in train_records}
    assert not {r.text.strip().lower() for r in test} & {
        r.text.strip().lower() for r in train_records
    }


def test_datasheet_tables_match_the_data(project_settings: Settings) -> None:
    from classifier.stats import composition, render, replace_tables

    datasheet = (project_settings.training_data.parent / "README.md").read_text(encoding="utf-8")
    named = {
        "complaints": load_records(project_settings.training_data),
        "test": load_records(project_settings.test_data),
    }
    named["all"] = named["complaints"] + named["test"]
    expected = replace_tables(datasheet, render(composition(named), markdown=True))
    assert datasheet == expected, "run: complaint-triage data stats training_data/ --update ..."


def test_near_duplicates_are_flagged_within_and_across_files(tmp_path: Path) -> None:
    base = "The courier left my parcel in the rain and the box was soaked through"
    first = write(
        tmp_path / "a.jsonl",
        {**GOOD, "id": "a-1", "text": base},
        {**GOOD, "id": "a-2", "text": "My invoice shows a charge I never agreed to"},
        {**GOOD, "id": "a-3", "text": base + "!"},
    )
    second = write(tmp_path / "b.jsonl", {**GOOD, "id": "b-1", "text": base.upper()})
    _, problems = check_paths([first, second], near_duplicates=0.9)
    messages = sorted(str(p) for p in problems)
    assert len(messages) == 3
    assert f"{first}:3: text: near-duplicate of {first}:1 (a-1)" in messages[0]
    assert any(
        m.startswith(f"{second}:1: text: near-duplicate of {first}:1 (a-1)") for m in messages
    )


def test_different_complaints_are_not_near_duplicates(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.jsonl",
        {**GOOD, "id": "a-1", "text": "The courier left my parcel in the rain"},
        {**GOOD, "id": "a-2", "text": "The courier never came and my parcel is lost"},
    )
    assert check_paths([path], near_duplicates=0.9)[1] == []


def test_shipped_data_has_no_near_duplicates(project_settings: Settings) -> None:
    _, problems = check_paths([project_settings.training_data.parent], near_duplicates=0.9)
    assert problems == []


def test_frozen_test_items_are_never_edited(project_settings: Settings) -> None:
    """Each released prefix of test.jsonl keeps its sha256: items are only ever appended."""
    lines = project_settings.test_data.read_bytes().splitlines(keepends=True)
    frozen = project_settings.test_data.with_suffix(".frozen").read_text(encoding="utf-8")
    releases = [row.split() for row in frozen.splitlines() if row and not row.startswith("#")]
    assert releases
    for count, digest in releases:
        assert hashlib.sha256(b"".join(lines[: int(count)])).hexdigest() == digest, count
