"""Feedback commands: the agents' corrections as training data."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from classifier.cli.console import err, fail
from classifier.data import DatasetError, load_records
from classifier.feedback import FeedbackSet, feedback_records, jsonl_lines, write_jsonl
from classifier.settings import Settings, get_settings
from classifier.store import Store

feedback_app = typer.Typer(
    help="The agents' corrections, which become training data.", no_args_is_help=True
)


def load_feedback(settings: Settings) -> FeedbackSet:
    """Corrected triages from the store, leaving out complaints in the frozen test set."""
    try:
        test = load_records(settings.test_data) if settings.test_data.exists() else []
        store = Store.open(settings.database_url)
    except DatasetError as exc:
        raise fail(str(exc)) from exc
    except SQLAlchemyError as exc:
        raise fail(f"cannot open the database {settings.database_url}: {exc}") from exc
    try:
        return feedback_records(store, test)
    finally:
        store.close()


@feedback_app.command("export")
def export(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="JSONL file to write (default: standard output)."),
    ] = None,
) -> None:
    """Write every corrected triage (its latest correction) as JSONL in the training-data
    format, ready for `data check` and for training."""
    found = load_feedback(get_settings())
    if output is None:
        sys.stdout.write("".join(jsonl_lines(found.records)))
    else:
        write_jsonl(found.records, output)
    where = f" to {output}" if output else ""
    err.print(f"exported {len(found.records)} corrected triage(s){where}", highlight=False)
    if found.in_test_set:
        err.print(f"left out {found.in_test_set} that the frozen test set holds", highlight=False)
