"""Composition of labelled datasets: the tables of the datasheet, as text or Markdown."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

from classifier.catalogue import DEPARTMENT_IDS
from classifier.data import Record

LENGTH_BUCKETS = ((1, 12, "1-12 words"), (13, 60, "13-60"), (61, 199, "61-199"),
                  (200, 10**9, "200+"))  # fmt: skip


@dataclass(frozen=True)
class Table:
    title: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}%" if total else "-"


def _counted(title: str, key: str, named: Mapping[str, list[Record]], values: list[str]) -> Table:
    rows = []
    for value in values:
        row = [value]
        for records in named.values():
            count = sum(1 for r in records if value in _values(r, key))
            row.append(f"{count} ({_share(count, len(records))})")
        rows.append(tuple(row))
    return Table(title, (key, *named), rows)


def _values(record: Record, key: str) -> tuple[str, ...]:
    if key == "department":
        return record.departments
    if key == "tag":
        return record.tags
    if key == "departments per item":
        return (str(min(len(record.departments), 4)).replace("4", "4+"),)
    if key == "length":
        words = len(record.text.split())
        return tuple(label for lo, hi, label in LENGTH_BUCKETS if lo <= words <= hi)
    value = getattr(record, key)
    return (value or "(none)",)


def _overview(sets: Mapping[str, list[Record]]) -> Table:
    def with_share(count: Callable[[list[Record]], int]) -> tuple[str, ...]:
        return tuple(f"{count(rs)} ({_share(count(rs), len(rs))})" for rs in sets.values())

    def distinct(field: str) -> tuple[str, ...]:
        return tuple(str(len({getattr(r, field) for r in rs} - {None})) for rs in sets.values())

    rows = [
        ("records", *(str(len(rs)) for rs in sets.values())),
        ("escalate", *with_share(lambda rs: sum(r.escalate for r in rs))),
        ("no department", *with_share(lambda rs: sum(not r.departments for r in rs))),
        ("industries", *distinct("industry")),
        ("channels", *distinct("channel")),
    ]
    return Table("Overview", ("", *sets), rows)


def _co_occurrence(records: list[Record]) -> Table:
    pairs = Counter(p for r in records for p in combinations(sorted(r.departments), 2))
    rows = [
        (a, *("-" if a == b else str(pairs[(min(a, b), max(a, b))]) for b in DEPARTMENT_IDS))
        for a in DEPARTMENT_IDS
    ]
    header = ("", *(d.split("_")[0][:7] for d in DEPARTMENT_IDS))
    return Table("Department co-occurrence (all records)", header, rows)


def composition(named: Mapping[str, Sequence[Record]]) -> list[Table]:
    """The datasheet's tables for each named set of records (e.g. train, test, all)."""
    sets = {name: list(records) for name, records in named.items()}
    # Sets may overlap (an "all" set beside its parts): count each record once.
    everything = list({r.id: r for records in sets.values() for r in records}.values())

    def seen(key: str) -> list[str]:
        return sorted({v for r in everything for v in _values(r, key)})

    per_item = ["0", "1", "2", "3", "4+"]
    lengths = [label for _, _, label in LENGTH_BUCKETS]
    return [
        _overview(sets),
        _counted("Departments (positives)", "department", sets, list(DEPARTMENT_IDS)),
        _counted("Departments per complaint", "departments per item", sets, per_item),
        _counted("Industries", "industry", sets, seen("industry")),
        _counted("Channels", "channel", sets, seen("channel")),
        _counted("Length", "length", sets, lengths),
        _counted("Hard-case tags", "tag", sets, seen("tag")),
        _co_occurrence(everything),
    ]


def render(tables: list[Table], *, markdown: bool) -> str:
    out = []
    for table in tables:
        if markdown:
            out.append(f"### {table.title}\n")
            out.append("| " + " | ".join(table.header) + " |")
            out.append("|" + "---|" * len(table.header))
            out.extend("| " + " | ".join(row) + " |" for row in table.rows)
        else:
            widths = [
                max(len(str(c)) for c in col) for col in zip(table.header, *table.rows, strict=True)
            ]
            out.append(table.title)
            out.append("  ".join(h.ljust(w) for h, w in zip(table.header, widths, strict=True)))
            out.extend(
                "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
                for row in table.rows
            )
        out.append("")
    return "\n".join(out)


BEGIN_MARK = "<!-- stats:begin (complaint-triage data stats training_data/ --update) -->"
END_MARK = "<!-- stats:end -->"


def replace_tables(document: str, tables: str) -> str:
    """`document` with the text between the stats markers replaced by `tables`."""
    start, end = document.find(BEGIN_MARK), document.find(END_MARK)
    if start < 0 or end < start:
        raise ValueError(f"no {BEGIN_MARK} ... {END_MARK} block")
    return document[: start + len(BEGIN_MARK)] + "\n\n" + tables.strip() + "\n\n" + document[end:]
