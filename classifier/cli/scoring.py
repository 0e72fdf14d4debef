"""`score-batch`: offline bulk scoring of a JSONL or CSV file.

The input is streamed: lines are read, scored and written in chunks, so a file of millions of
lines needs no more memory than one chunk. Each chunk goes through the vectorised path of
the triage service. A bad line becomes an error line in the output and the run carries on.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from classifier import registry
from classifier.case import CaseContext, Money, complaint_text
from classifier.catalogue import load_catalogue
from classifier.cli.console import err, fail
from classifier.document import classification_document, triage_document
from classifier.registry import ModelHolder
from classifier.settings import get_settings
from classifier.store import Store
from classifier.triage import TriageService, build_service

CHUNK_SIZE = 500
MAX_TEXT_CHARS = 20_000  # as POST /v1/triage
CSV_COLUMNS = ("text", "id", "case_ref", "channel", "customer_name", "tier",
               "previous_contacts", "language", "amount", "currency")  # fmt: skip


class InputError(Exception):
    """The input as a whole cannot be read (as opposed to one bad line)."""


class ScoreInput(BaseModel):
    """One input line: the complaint and its case context; other fields are ignored, so
    labelled data can be scored as it is."""

    model_config = ConfigDict(extra="ignore")

    text: str = Field(max_length=MAX_TEXT_CHARS)
    id: str | int | None = None
    case_ref: str | None = Field(None, max_length=64)
    channel: str | None = Field(None, max_length=32)
    customer_name: str | None = Field(None, max_length=120)
    tier: str | None = Field(None, max_length=32)
    previous_contacts: int = Field(0, ge=0, le=1000)
    language: str | None = Field(None, max_length=16)
    amount: float | Money | None = Field(None, description="A number, or {value, currency}.")
    currency: str = Field("EUR", min_length=3, max_length=3)

    _not_blank = field_validator("text")(complaint_text)

    def context(self) -> CaseContext:
        amount = self.amount
        if isinstance(amount, float):
            amount = Money(value=amount, currency=self.currency)
        return CaseContext(
            case_ref=self.case_ref, channel=self.channel, customer_name=self.customer_name,
            tier=self.tier, previous_contacts=self.previous_contacts, language=self.language,
            amount=amount,
        )  # fmt: skip


@dataclass(frozen=True)
class Line:
    """One input record: its line number and fields, or why it could not be read."""

    number: int
    fields: dict[str, Any] | None
    problem: str | None = None


class Reader:
    """Reads records from a file opened in binary mode, counting the bytes consumed."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.position = 0

    def _raw_lines(self) -> Iterator[bytes]:
        for raw in self.handle:
            self.position += len(raw)
            yield raw

    def jsonl_lines(self) -> Iterator[Line]:
        for number, raw in enumerate(self._raw_lines(), start=1):
            if not raw.strip():
                continue
            try:
                found = json.loads(raw)  # bytes: UTF-8 with or without a BOM
            except UnicodeDecodeError:
                yield Line(number, None, "not valid UTF-8")
                continue
            except json.JSONDecodeError as exc:
                yield Line(number, None, f"not valid JSON: {exc.msg} (column {exc.colno})")
                continue
            if isinstance(found, dict):
                yield Line(number, found)
            else:
                yield Line(number, None, f"a JSON object is needed, not {type(found).__name__}")

    def csv_lines(self) -> Iterator[Line]:
        """The records after the header row, which is read now: InputError without a
        `text` column."""
        undecodable: set[int] = set()

        def text_lines() -> Iterator[str]:
            for number, raw in enumerate(self._raw_lines(), start=1):
                try:
                    yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError:
                    undecodable.add(number)
                    yield raw.decode("utf-8", "replace")

        reader = csv.DictReader(text_lines())
        if reader.fieldnames is not None and "text" not in reader.fieldnames:
            raise InputError(
                f"the CSV header has no `text` column (found: {', '.join(reader.fieldnames)});"
                f" columns read: {', '.join(CSV_COLUMNS)}"
            )
        return self._csv_records(reader, undecodable)

    @staticmethod
    def _csv_records(reader: csv.DictReader[str], undecodable: set[int]) -> Iterator[Line]:
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Line(start, None, f"not valid CSV: {exc}")
                continue
            if undecodable.intersection(range(start, reader.line_num + 1)):
                yield Line(start, None, "not valid UTF-8")
                continue
            # empty cells are missing values, so the defaults apply
            yield Line(
                start, {k: v for k, v in row.items() if k is not None and v not in ("", None)}
            )


def _problem(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'line'}: {e['msg'].removeprefix('Value error, ')}"
        for e in error.errors()
    )


@dataclass
class Tally:
    lines: int = 0
    scored: int = 0
    errors: int = 0


def score_lines(
    lines: Iterable[Line],
    service: TriageService,
    output: IO[str],
    *,
    drafts: bool = True,
    chunk_size: int = CHUNK_SIZE,
    after_chunk: Callable[[Tally], None] | None = None,
) -> Tally:
    """Score `lines` chunk by chunk and write one JSON line for each, in input order."""
    tally = Tally()
    chunk: list[Line] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= chunk_size:
            _score_chunk(chunk, service, output, drafts, tally)
            chunk = []
            if after_chunk:
                after_chunk(tally)
    if chunk:
        _score_chunk(chunk, service, output, drafts, tally)
    if after_chunk:
        after_chunk(tally)
    return tally


def _score_chunk(
    chunk: list[Line], service: TriageService, output: IO[str], drafts: bool, tally: Tally
) -> None:
    out: list[dict[str, Any] | None] = [None] * len(chunk)
    valid: list[tuple[int, ScoreInput]] = []
    for position, line in enumerate(chunk):
        if line.fields is None:
            out[position] = {**_head(line), "error": line.problem}
            continue
        try:
            valid.append((position, ScoreInput.model_validate(line.fields)))
        except ValidationError as error:
            out[position] = {**_head(line), "error": _problem(error)}
    texts = [item.text for _, item in valid]
    contexts = [item.context() for _, item in valid]
    if drafts:
        names = service.names()
        documents = [triage_document(r, names) for r in service.triage_many(texts, contexts)]
    else:
        documents = [classification_document(c) for c in service.classify_many(texts, contexts)]
    for (position, _), document in zip(valid, documents, strict=True):
        out[position] = {**_head(chunk[position]), **document}
    for record in out:
        output.write(json.dumps(record, ensure_ascii=False) + "\n")
    output.flush()  # a long run's output can be followed, and survives a crash up to here
    tally.lines += len(chunk)
    tally.scored += len(valid)
    tally.errors += len(chunk) - len(valid)


def _head(line: Line) -> dict[str, Any]:
    """The fields every output line starts with: the input line number and its id if any."""
    found = line.fields.get("id") if line.fields else None
    return {"line": line.number} if found is None else {"line": line.number, "id": found}


def score_batch(
    input_path: Annotated[
        Path,
        typer.Option(
            "--input",
            help="A .jsonl file (one object per line) or a .csv file with a header row;"
            " `text` is required, `id` and the case context are optional.",
        ),
    ],
    output_path: Annotated[
        Path, typer.Option("--output", help="The .jsonl to write: one line per input line.")
    ],
    model: Annotated[str | None, typer.Option(help="Model version (default: champion).")] = None,
    store: Annotated[
        bool,
        typer.Option("--store", help="Also save the triages in the database (CT_DATABASE_URL)."),
    ] = False,
    drafts: Annotated[
        bool,
        typer.Option("--drafts/--no-drafts", help="Draft handoff notes and customer updates."),
    ] = True,
) -> None:
    """Score a JSONL or CSV file offline, in order, with a progress bar and a summary.

    A line that cannot be scored gets {"line": n, "error": "..."} and the run carries on
    (exit 0; the summary counts the errors). Exit 1 when the input cannot be read."""
    suffix = input_path.suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        raise fail(f"{input_path}: the input must be a .jsonl or a .csv file")
    if store and not drafts:
        raise fail("--store needs the drafts: a stored triage keeps its handoff notes")
    settings = get_settings()
    labels = load_catalogue(settings.catalogue).ids
    try:
        loaded = (
            registry.load(settings.models_dir, model, labels)
            if model
            else registry.load_champion(settings.models_dir, labels)
        )
    except registry.ArtefactError as exc:
        raise fail(str(exc)) from exc
    try:
        handle = input_path.open("rb")
    except OSError as exc:
        raise fail(f"{input_path}: {exc.strerror}") from exc
    with handle:
        reader = Reader(handle)
        try:
            lines = reader.jsonl_lines() if suffix == ".jsonl" else reader.csv_lines()
        except InputError as exc:
            raise fail(f"{input_path}: {exc}") from exc
        try:
            output = output_path.open("w", encoding="utf-8")
        except OSError as exc:
            raise fail(f"{output_path}: {exc.strerror}") from exc
        database = Store.open(settings.database_url) if store else None
        service = build_service(
            settings, ModelHolder(loaded), load_catalogue(settings.catalogue), database
        )
        start = time.perf_counter()
        with output, _progress() as progress:
            task = progress.add_task("scoring", total=input_path.stat().st_size or 1, lines=0)

            def advance(tally: Tally) -> None:
                progress.update(task, completed=reader.position, lines=tally.lines)

            try:
                tally = score_lines(lines, service, output, drafts=drafts, after_chunk=advance)
            finally:
                if database is not None:
                    database.close()
            progress.update(task, completed=progress.tasks[0].total)
    seconds = time.perf_counter() - start
    err.print(
        f"{tally.lines} lines: {tally.scored} scored, {tally.errors} errors in {seconds:.2f} s"
        f" ({tally.lines / seconds if seconds else 0:,.0f} rows/s); wrote {output_path}",
        highlight=False,
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[lines]} lines"),
        TimeElapsedColumn(),
        console=err,
    )
