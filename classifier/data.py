"""Labelled complaint records: reading, validating and fingerprinting datasets."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifier.catalogue import DEPARTMENT_IDS
from classifier.similarity import near_duplicate_pairs

INDUSTRIES = frozenset(
    {
        "banking",
        "telecom",
        "ecommerce",
        "airline_travel",
        "energy_water",
        "insurance",
        "software_saas",
        "healthcare_admin",
        "public_transport",
        "hotels",
        "automotive",
        "education",
        "furniture_appliances",
        "food_delivery",
    }
)
CHANNELS = frozenset({"email", "chat", "web_form", "social_media", "phone", "letter"})
# Hard cases a keyword router gets wrong; an optional descriptor so the datasheet can count them.
TAGS = frozenset(
    {
        "negation", "decoy", "multi_issue", "quoted", "sarcasm", "very_short", "all_caps",
        "typos", "angry_no_criterion", "calm_with_criterion",
    }
)  # fmt: skip
_KNOWN_KEYS = frozenset({"id", "text", "departments", "escalate", "industry", "channel", "tags"})


@dataclass(frozen=True)
class Record:
    id: str
    text: str
    departments: tuple[str, ...]
    escalate: bool
    industry: str | None = None
    channel: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset, located as precisely as we can."""

    path: Path
    line: int
    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.problem}"


class DatasetError(ValueError):
    """A dataset failed validation; `problems` says where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "\n".join(str(p) for p in problems[:20])
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} problem(s) in the data:\n{shown}{more}")


def _id_list(
    bad: Callable[[str, str], None],
    field: str,
    values: Any,
    allowed: Collection[str],
    noun: str,
    *,
    required: bool,
) -> bool:
    """Check a list of ids: strings, known, unique, sorted. True when it is a list of strings."""
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        bad(field, f"{'required, ' if required else ''}a list of {noun}s")
        return False
    for value in values:
        if value not in allowed:
            bad(field, f"unknown {noun} {value!r}; one of {', '.join(sorted(allowed))}")
    if len(set(values)) != len(values):
        bad(field, f"duplicate {noun}")
    elif values != sorted(values):
        bad(field, f"{noun}s must be sorted alphabetically")
    return True


def check_object(obj: dict[str, Any], path: Path, line: int) -> list[Problem]:
    problems: list[Problem] = []

    def bad(field: str, problem: str) -> None:
        problems.append(Problem(path, line, field, problem))

    for key in sorted(set(obj) - _KNOWN_KEYS):
        bad(key, "unknown field")
    if not isinstance(obj.get("id"), str) or not obj["id"].strip():
        bad("id", "required, a non-empty string")
    if not isinstance(obj.get("text"), str) or not obj["text"].strip():
        bad("text", "required, a non-empty string")
    if not isinstance(obj.get("escalate"), bool):
        bad("escalate", "required, true or false")
    departments = obj.get("departments")
    if _id_list(bad, "departments", departments, DEPARTMENT_IDS, "department id", required=True):
        if "senior_management" in (departments or []) and obj.get("escalate") is False:
            bad("escalate", "must be true when senior_management is a department")
    for field, allowed in (("industry", INDUSTRIES), ("channel", CHANNELS)):
        value = obj.get(field)
        if value is not None and value not in allowed:
            bad(field, f"unknown value {value!r}; one of {', '.join(sorted(allowed))}")
    _id_list(bad, "tags", obj.get("tags", []), TAGS, "tag", required=False)
    return problems


def _to_record(obj: dict[str, Any]) -> Record:
    return Record(
        id=obj["id"],
        text=obj["text"],
        departments=tuple(obj["departments"]),
        escalate=obj["escalate"],
        industry=obj.get("industry"),
        channel=obj.get("channel"),
        tags=tuple(obj.get("tags", ())),
    )


@dataclass(frozen=True)
class Located:
    """A valid record and where it was read from."""

    record: Record
    path: Path
    line: int


def scan_file(path: Path) -> tuple[list[Located], list[Problem]]:
    """Read one JSONL file; return the valid records and every problem found."""
    located: list[Located] = []
    problems: list[Problem] = []
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return [], [Problem(path, 0, "file", f"cannot read: {exc.strerror}")]
    seen: dict[str, int] = {}
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            problems.append(Problem(path, number, "line", "not valid UTF-8"))
            continue
        except json.JSONDecodeError as exc:
            problems.append(Problem(path, number, "line", f"not valid JSON: {exc.msg}"))
            continue
        if not isinstance(obj, dict):
            problems.append(Problem(path, number, "line", "must be a JSON object"))
            continue
        found = check_object(obj, path, number)
        record_id = obj.get("id")
        if isinstance(record_id, str):
            if record_id in seen:
                found.append(Problem(path, number, "id", f"duplicate of line {seen[record_id]}"))
            seen.setdefault(record_id, number)
        problems.extend(found)
        if not found:
            located.append(Located(_to_record(obj), path, number))
    return located, problems


def dataset_files(path: Path) -> list[Path]:
    """The JSONL files a path names: the file itself, or every *.jsonl in a directory."""
    return sorted(path.glob("*.jsonl")) if path.is_dir() else [path]


def check_paths(
    paths: Iterable[Path], *, near_duplicates: float | None = None
) -> tuple[list[Record], list[Problem]]:
    """Validate files and directories, including ids repeated across files and, when
    `near_duplicates` is a cosine threshold, texts too similar within or across files."""
    located: list[Located] = []
    problems: list[Problem] = []
    first_seen: dict[str, Path] = {}
    for path in paths:
        for file in dataset_files(path):
            file_located, file_problems = scan_file(file)
            problems.extend(file_problems)
            for item in file_located:
                other = first_seen.setdefault(item.record.id, file)
                if other != file:
                    message = f"{item.record.id!r} also used in {other}"
                    problems.append(Problem(file, item.line, "id", message))
            located.extend(file_located)
    if near_duplicates is not None:
        texts = [item.record.text for item in located]
        for i, j, cosine in near_duplicate_pairs(texts, near_duplicates):
            first, second = located[i], located[j]
            message = (
                f"near-duplicate of {first.path}:{first.line} ({first.record.id}), "
                f"word TF-IDF cosine {cosine:.2f} > {near_duplicates}"
            )
            problems.append(Problem(second.path, second.line, "text", message))
    return [item.record for item in located], problems


def load_records(path: Path) -> list[Record]:
    """Read a dataset, raising DatasetError with every problem if any record is invalid."""
    records, problems = check_paths([path])
    if problems:
        raise DatasetError(problems)
    return records


def sha256_of(paths: Iterable[Path]) -> str:
    """Fingerprint of the dataset files, so a model names exactly what it learned from."""
    digest = hashlib.sha256()
    for path in paths:
        for file in dataset_files(path):
            digest.update(file.read_bytes())
    return digest.hexdigest()


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object) for each non-empty line; raises on invalid JSON."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, json.loads(line)
