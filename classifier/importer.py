"""Turning a CRM export (CSV or JSONL) into labelled records, reporting every bad row.

Department names are mapped to ids through a TOML mapping file; nothing is dropped silently:
each row either becomes a record or is reported as `file:row: field: problem`.
"""

from __future__ import annotations

import csv
import json
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifier.catalogue import DEPARTMENT_IDS
from classifier.data import Problem, check_object
from classifier.similarity import NEAR_DUPLICATE, near_duplicate_pairs

TRUE_VALUES = ("true", "yes", "y", "1", "escalated")
FALSE_VALUES = ("false", "no", "n", "0", "")


@dataclass(frozen=True)
class ImportMapping:
    """How a CRM's vocabulary maps onto ours. A department name mapped to "" is known to
    need no department (e.g. "General enquiry")."""

    departments: dict[str, str] = field(default_factory=dict)
    true_values: tuple[str, ...] = TRUE_VALUES
    false_values: tuple[str, ...] = FALSE_VALUES
    separator: str = ","

    def department(self, name: str) -> str | None:
        """The id for a department name, "" for "no department", None when unknown."""
        key = name.strip().lower()
        if key in DEPARTMENT_IDS:
            return key
        return self.departments.get(key)


@dataclass(frozen=True)
class Columns:
    text: str
    departments: str
    escalate: str
    id: str | None = None
    industry: str | None = None
    channel: str | None = None


class MappingError(ValueError):
    """The mapping file is unreadable or maps to unknown department ids."""


def load_mapping(path: Path | None) -> ImportMapping:
    if path is None:
        return ImportMapping()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise MappingError(f"{path}: cannot read the mapping: {exc}") from exc
    departments: dict[str, str] = {}
    for name, target in raw.get("departments", {}).items():
        if not isinstance(target, str) or (target and target not in DEPARTMENT_IDS):
            raise MappingError(
                f"{path}: departments.{name!r}: {target!r} is not a department id "
                f'(one of {", ".join(DEPARTMENT_IDS)}, or "" for none)'
            )
        departments[name.strip().lower()] = target
    escalate = raw.get("escalate", {})
    options = raw.get("options", {})
    return ImportMapping(
        departments=departments,
        true_values=tuple(v.lower() for v in escalate.get("true", TRUE_VALUES)),
        false_values=tuple(v.lower() for v in escalate.get("false", FALSE_VALUES)),
        separator=str(options.get("separator", ",")),
    )


def read_rows(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(row number, row) or (row number, why it cannot be read). CSV rows are numbered as a
    spreadsheet shows them (the header is row 1); JSONL rows by line."""
    if fmt == "csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for number, row in enumerate(csv.DictReader(handle), start=2):
                if None in row:
                    yield number, f"{len(row[None])} more cell(s) than the header has columns"
                else:
                    yield number, row
        return
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, f"not valid JSON: {exc.msg}"
                continue
            yield number, obj if isinstance(obj, dict) else "must be a JSON object"


def _departments(value: Any, mapping: ImportMapping) -> tuple[list[str], list[str]]:
    """(ids, unknown names) for a cell holding one or more department names."""
    if isinstance(value, list):
        names = [str(v) for v in value]
    else:
        names = str(value or "").split(mapping.separator)
    ids, unknown = set(), []
    for name in (n.strip() for n in names):
        if not name:
            continue
        target = mapping.department(name)
        if target is None:
            unknown.append(name)
        elif target:
            ids.add(target)
    return sorted(ids), unknown


def _escalate(value: Any, mapping: ImportMapping) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in mapping.true_values:
        return True
    if text in mapping.false_values:
        return False
    return None


def convert(
    path: Path,
    fmt: str,
    columns: Columns,
    mapping: ImportMapping,
    id_prefix: str,
    similarity: float = NEAR_DUPLICATE,
) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Records in the training-data format and every problem, each with its row: bad cells,
    repeated ids and near-duplicate texts, as `data check` would find them."""
    rows: list[tuple[int, dict[str, Any]]] = []
    problems: list[Problem] = []
    required = [c for c in (columns.text, columns.departments, columns.escalate, columns.id) if c]
    column_of = {"text": columns.text, "departments": columns.departments,
                 "escalate": columns.escalate, "id": columns.id or "id"}  # fmt: skip
    try:
        for row_number, row in read_rows(path, fmt):
            if isinstance(row, str):
                problems.append(Problem(path, row_number, "row", row))
                continue
            missing = [c for c in required if c not in row]
            if missing:
                found = ", ".join(map(repr, row)) or "none"
                message = f"column not found; the row has {found}"
                problems.append(Problem(path, row_number, missing[0], message))
                continue
            record, row_problems = _record(row, row_number, path, columns, mapping, id_prefix)
            # Name the CRM's column, which the analyst knows, rather than our field.
            problems.extend(
                Problem(p.path, p.line, column_of.get(p.field, p.field), p.problem)
                for p in row_problems
            )
            if not row_problems:
                rows.append((row_number, record))
    except (UnicodeDecodeError, csv.Error) as exc:
        problems.append(Problem(path, 0, "file", f"cannot parse as {fmt}: {exc}"))
    first_row: dict[str, int] = {}
    for row_number, record in rows:
        first = first_row.setdefault(record["id"], row_number)
        if first != row_number:
            message = f"{record['id']!r} repeats the id of row {first}"
            problems.append(Problem(path, row_number, columns.id or "id", message))
    for i, j, cosine in near_duplicate_pairs([r["text"] for _, r in rows], similarity):
        message = f"near-duplicate of row {rows[i][0]} (word TF-IDF cosine {cosine:.2f})"
        problems.append(Problem(path, rows[j][0], columns.text, message))
    problems.sort(key=lambda p: p.line)
    return [record for _, record in rows], problems


def _record(
    row: dict[str, Any],
    row_number: int,
    path: Path,
    columns: Columns,
    mapping: ImportMapping,
    id_prefix: str,
) -> tuple[dict[str, Any], list[Problem]]:
    problems = []
    departments, unknown = _departments(row[columns.departments], mapping)
    for name in unknown:
        message = f"unknown department name {name!r}; add it to the mapping file"
        problems.append(Problem(path, row_number, "departments", message))
    escalate = _escalate(row[columns.escalate], mapping)
    if escalate is None:
        message = f"{row[columns.escalate]!r} is neither a true nor a false value"
        problems.append(Problem(path, row_number, "escalate", message))
    record_id = str(row[columns.id]).strip() if columns.id else f"{id_prefix}-{row_number}"
    text = row[columns.text]
    record: dict[str, Any] = {
        "id": record_id,
        "text": text if isinstance(text, str) else "",
        "departments": departments,
        "escalate": escalate,
    }
    for key, column in (("industry", columns.industry), ("channel", columns.channel)):
        if column and row.get(column):
            record[key] = str(row[column]).strip()
    return record, problems or check_object(record, path, row_number)
