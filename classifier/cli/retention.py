"""Retention commands: `purge` old triages, `erase` one case for a data-protection request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from classifier.cli.console import fail
from classifier.retention import Removal, erase_case, purge
from classifier.settings import get_settings
from classifier.store import Store

DRY_RUN_HELP = "Report what would be removed and remove nothing."


@contextmanager
def _store() -> Iterator[Store]:
    url = get_settings().database_url
    try:
        store = Store.open(url)
    except (SQLAlchemyError, OSError) as exc:
        raise fail(f"cannot open the database {url}: {exc}") from exc
    try:
        yield store
    except SQLAlchemyError as exc:
        raise fail(f"the database refused the deletion, nothing more was removed: {exc}") from exc
    finally:
        store.close()


def counts(removal: Removal) -> str:
    """'2 triages, 3 handoffs and 1 feedback'"""
    triages = f"{removal.triages} triage{'' if removal.triages == 1 else 's'}"
    handoffs = f"{removal.handoffs} handoff{'' if removal.handoffs == 1 else 's'}"
    return f"{triages}, {handoffs} and {removal.feedback} feedback"


def purge_command(
    older_than_days: Annotated[
        int | None,
        typer.Option(
            "--older-than-days",
            min=0,
            help="Remove triages created more than this many days ago (default: "
            "CT_RETENTION_DAYS).",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help=DRY_RUN_HELP)] = False,
) -> None:
    """Delete triages older than the retention period, with their handoffs and feedback.

    Deletes in transactions of 500 triages, so a running server keeps writing meanwhile."""
    days = get_settings().retention_days if older_than_days is None else older_than_days
    cutoff = datetime.now(UTC) - timedelta(days=days)
    with _store() as store:
        removed = purge(store, before=cutoff, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    typer.echo(
        f"{verb} {counts(removed)} created before {cutoff:%Y-%m-%d %H:%M:%S} UTC "
        f"(older than {days} day{'' if days == 1 else 's'})"
    )


def erase_command(
    case_ref: Annotated[
        str, typer.Option("--case-ref", help="The case reference, exactly as stored.")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help=DRY_RUN_HELP)] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as one JSON object.")
    ] = False,
) -> None:
    """Remove everything stored about one case (its triages, handoffs and feedback), for a
    data-protection request, and report what was removed. Erasing again removes nothing."""
    with _store() as store:
        removed = erase_case(store, case_ref, dry_run=dry_run)
    if as_json:
        report = {"case_ref": case_ref, "dry_run": dry_run, "triages": removed.triages,
                  "handoffs": removed.handoffs, "feedback": removed.feedback,
                  "triage_ids": list(removed.triage_ids)}  # fmt: skip
        typer.echo(json.dumps(report, ensure_ascii=False))
        return
    verb = "would erase" if dry_run else "erased"
    typer.echo(f"case {case_ref}: {verb} {counts(removed)}")
    for triage_id in removed.triage_ids:
        typer.echo(f"  triage {triage_id}")
