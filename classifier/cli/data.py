"""Data commands: check and describe labelled datasets, import CRM exports."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from classifier.agreement import agreement
from classifier.catalogue import CatalogueError, load_catalogue
from classifier.cli.console import err, fail
from classifier.data import DatasetError, Record, check_paths, dataset_files, load_records
from classifier.importer import Columns, MappingError, convert, load_mapping
from classifier.similarity import NEAR_DUPLICATE
from classifier.stats import composition, render, replace_tables

data_app = typer.Typer(help="Check and describe labelled datasets.", no_args_is_help=True)


class ImportFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


def import_records(
    file: Annotated[
        Path, typer.Argument(help="The CRM export to convert.", exists=True, dir_okay=False)
    ],
    text_column: Annotated[str, typer.Option(help="Column holding the complaint text.")],
    departments_column: Annotated[
        str,
        typer.Option(
            help="Column holding department names (separator from the mapping, default ',')."
        ),
    ],
    escalate_column: Annotated[str, typer.Option(help="Column holding the escalation flag.")],
    fmt: Annotated[
        ImportFormat, typer.Option("--format", help="Format of FILE.")
    ] = ImportFormat.csv,
    mapping: Annotated[
        Path | None,
        typer.Option(help="TOML mapping CRM department names (and escalation values) to ours."),
    ] = None,
    id_column: Annotated[
        str | None, typer.Option(help="Column holding a stable id (default: PREFIX-ROW).")
    ] = None,
    id_prefix: Annotated[
        str | None, typer.Option(help="Prefix of generated ids (default: the file name).")
    ] = None,
    industry_column: Annotated[
        str | None, typer.Option(help="Column holding the industry.")
    ] = None,
    channel_column: Annotated[str | None, typer.Option(help="Column holding the channel.")] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write records here (default: standard output).")
    ] = None,
    similarity: Annotated[
        float, typer.Option(help="Near-duplicate cosine threshold, as in data check.")
    ] = NEAR_DUPLICATE,
) -> None:
    """Turn a CRM export into training records; every bad row is reported, none dropped.

    On any problem nothing is written and the exit status is 1. The records written pass
    `data check` (the same rules, including near-duplicates).
    """
    try:
        rules = load_mapping(mapping)
    except MappingError as exc:
        raise fail(str(exc)) from exc
    columns = Columns(text_column, departments_column, escalate_column, id_column,
                      industry_column, channel_column)  # fmt: skip
    records, problems = convert(file, fmt.value, columns, rules, id_prefix or file.stem, similarity)
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        err.print(f"{len(problems)} problem(s) in {file}; nothing written")
        raise typer.Exit(1)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        # The written file must pass data check as it stands.
        _, problems = check_paths([output], near_duplicates=similarity)
        for problem in problems:
            typer.echo(str(problem), err=True)
        if problems:
            raise typer.Exit(1)
    err.print(f"imported {len(records)} record(s) from {file}")


@data_app.command("stats")
def data_stats(
    paths: Annotated[list[Path], typer.Argument(help="JSONL files or directories of them.")],
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Markdown tables for the datasheet.")
    ] = False,
    update: Annotated[
        Path | None,
        typer.Option(help="Rewrite the tables between the stats markers of this datasheet."),
    ] = None,
) -> None:
    """Print the composition tables: labels, escalation, industries, channels, lengths, tags."""
    named: dict[str, list[Record]] = {}
    for path in paths:
        for file in dataset_files(path):
            try:
                named[file.stem] = load_records(file)
            except DatasetError as exc:
                raise fail(str(exc)) from exc
    if len(named) > 1:
        named["all"] = [r for records in list(named.values()) for r in records]
    if update is None:
        typer.echo(render(composition(named), markdown=markdown))
        return
    try:
        update.write_text(
            replace_tables(
                update.read_text(encoding="utf-8"), render(composition(named), markdown=True)
            ),
            encoding="utf-8",
        )
    except ValueError as exc:
        raise fail(f"{update}: {exc}") from exc
    typer.echo(f"updated the tables in {update}")


@data_app.command("check")
def data_check(
    paths: Annotated[list[Path], typer.Argument(help="JSONL files or directories of them.")],
    similarity: Annotated[
        float,
        typer.Option(
            help="Flag texts whose word TF-IDF cosine exceeds this (within and across files)."
        ),
    ] = NEAR_DUPLICATE,
) -> None:
    """Validate labelled data; print `file:line: field: problem` per error, exit 1 on any.

    Checks the annotation guide's rules (known, sorted, unique department ids;
    senior_management implies escalate), unique ids across files and near-duplicate texts.
    """
    records, found = check_paths(paths, near_duplicates=similarity)
    problems = [str(p) for p in found]
    for path in paths:
        catalogue = path / "departments.toml"
        if path.is_dir() and catalogue.exists():
            try:
                load_catalogue(catalogue)
            except CatalogueError as exc:
                problems.append(str(exc))
    for problem in problems:
        typer.echo(problem)
    if problems:
        err.print(f"{len(problems)} problem(s); {len(records)} valid record(s)")
        raise typer.Exit(1)
    typer.echo(f"ok: {len(records)} record(s)")


@data_app.command("agreement")
def data_agreement(
    first: Annotated[
        Path, typer.Argument(help="Labels of the first labeller (JSONL or directory).")
    ],
    second: Annotated[Path, typer.Argument(help="Labels of the second labeller, same ids.")],
    markdown: Annotated[bool, typer.Option("--markdown", help="A Markdown table.")] = False,
    show: Annotated[
        bool, typer.Option("--disagreements", help="List the items they disagree on.")
    ] = False,
) -> None:
    """Cohen's kappa per label between two labellings of the same complaints."""
    try:
        results, disagreements, shared = agreement(load_records(first), load_records(second))
    except DatasetError as exc:
        raise fail(str(exc)) from exc
    if not shared:
        raise fail("the two files share no ids")
    if markdown:
        typer.echo(
            "| label | Cohen's kappa | raw agreement | first labeller + | second labeller + |"
        )
        typer.echo("|---|---|---|---|---|")
        for r in results:
            typer.echo(f"| {r.label} | {r.kappa:.2f} | {r.agreement:.1%} | "
                       f"{r.first_positives} | {r.second_positives} |")  # fmt: skip
    else:
        typer.echo(f"{'label':<22}{'kappa':>7}{'agree':>8}{'first+':>8}{'second+':>9}")
        for r in results:
            typer.echo(f"{r.label:<22}{r.kappa:>7.2f}{r.agreement:>8.1%}"
                       f"{r.first_positives:>8}{r.second_positives:>9}")  # fmt: skip
    typer.echo(f"\n{shared} complaints labelled by both; {len(disagreements)} differ in some label")
    if show:
        for d in disagreements:
            typer.echo(f"{d.id}: {', '.join(d.labels())}: first {list(d.first.departments)} "
                       f"escalate={d.first.escalate}; second {list(d.second.departments)} "
                       f"escalate={d.second.escalate}")  # fmt: skip
