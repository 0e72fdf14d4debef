"""The analysts' model lifecycle: list versions, promote through the gates, roll back, retrain."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from classifier import lifecycle, registry
from classifier.catalogue import load_catalogue
from classifier.cli.console import err, fail
from classifier.cli.training import settings_for, test_summary, train_version, usable_champion
from classifier.data import DatasetError, Record, load_records, sha256_of
from classifier.evaluation import evaluate
from classifier.policy import EscalationPolicy
from classifier.settings import Settings, get_settings

models_app = typer.Typer(help="The trained model versions.", no_args_is_help=True)
# Never narrower than the tables: a cut version name is useless (pipes default to 80 columns).
out = Console(soft_wrap=True, width=max(shutil.get_terminal_size().columns, 110))
NOT_PROMOTED = 3  # the exit code of a promotion the gates refused


def _rows(settings: Settings) -> list[dict[str, Any]]:
    champion = registry.champion(settings.models_dir)
    current_test = sha256_of([settings.test_data]) if settings.test_data.exists() else None
    rows = []
    for version in registry.versions(settings.models_dir):
        try:
            metadata = registry.read_metadata(settings.models_dir, version)
        except registry.ArtefactError as exc:
            rows.append({"version": version, "champion": version == champion, "error": str(exc)})
            continue
        results = metadata.get("test_metrics") or {}
        rows.append(
            {
                "version": version,
                "champion": version == champion,
                "created": metadata.get("created"),
                "training_records": (metadata.get("training_data") or {}).get("records"),
                "feedback_records": (metadata.get("feedback") or {}).get("records", 0),
                "macro_f1": results.get("macro_f1"),
                "escalation_recall": (results.get("escalation") or {}).get("recall"),
                "same_test_set": (metadata.get("test_data") or {}).get("sha256") == current_test,
            }
        )
    return rows


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@models_app.command("list")
def list_models(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """The versions with their test-set figures, and which one is champion.

    Oldest first: when each was made, on how many records, and its macro-F1 and escalation
    recall on the frozen test set as measured when it was trained."""
    settings = get_settings()
    rows = _rows(settings)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    if not rows:
        raise fail(
            f"no model versions in {settings.models_dir}; train one with `complaint-triage train`"
        )
    table = Table(
        title=f"Model versions in {settings.models_dir}", title_justify="left", box=box.SIMPLE
    )
    for name, justify in [("", "left"), ("version", "left"), ("created (UTC)", "left"),
                          ("trained on", "right"), ("macro-F1", "right"),
                          ("esc. recall", "right")]:  # fmt: skip
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    marked = False
    for row in rows:
        if "error" in row:
            table.add_row("!", row["version"], row["error"], "", "", "")
            continue
        star = "" if row["same_test_set"] else "*"
        marked |= bool(star)
        training = f"{row['training_records']}" if row["training_records"] is not None else "-"
        if row["feedback_records"]:
            training += f" (+{row['feedback_records']} fb)"
        table.add_row(
            "champion" if row["champion"] else "",
            row["version"],
            str(row["created"] or "-")[:16].replace("T", " "),
            training,
            _figure(row["macro_f1"]) + star,
            _figure(row["escalation_recall"]) + star,
        )
    out.print(table)
    if marked:
        out.print("* measured on another version of the test set than the current one")


def _test_records(settings: Settings) -> list[Record]:
    try:
        return load_records(settings.test_data)
    except DatasetError as exc:
        raise fail(f"the promotion gates need the frozen test set: {exc}") from exc


def comparison(settings: Settings, candidate: str) -> lifecycle.Comparison:
    """The candidate and the champion evaluated now on the same frozen test set."""
    labels = load_catalogue(settings.catalogue).ids
    records = _test_records(settings)
    try:
        loaded = registry.load(settings.models_dir, candidate, labels)
    except registry.ArtefactError as exc:
        raise fail(str(exc)) from exc
    candidate_metrics = evaluate(loaded.model, records, EscalationPolicy.of(settings))
    champion = registry.champion(settings.models_dir)
    champion_metrics = None
    if champion is not None and champion != candidate:
        try:
            current = registry.load(settings.models_dir, champion, labels)
            champion_metrics = evaluate(current.model, records, EscalationPolicy.of(settings))
        except registry.ArtefactError as exc:
            err.print(f"the champion is not usable, so there is nothing to compare with: {exc}")
    return lifecycle.compare(candidate, candidate_metrics, champion, champion_metrics)


def print_comparison(found: lifecycle.Comparison) -> None:
    if found.champion_metrics is None:
        out.print(f"{found.candidate}: {test_summary({'test_metrics': found.candidate_metrics})}")
        return
    table = Table(
        title=f"On the frozen test set: champion {found.champion} -> candidate {found.candidate}",
        title_justify="left",
    )
    for name in ("label", "champion", "candidate", "change"):
        table.add_column(name, justify="left" if name == "label" else "right", no_wrap=True)
    for diff in found.per_label:
        table.add_row(f"{diff.label} F1", f"{diff.champion_f1:.3f}", f"{diff.candidate_f1:.3f}",
                      f"{diff.change * 100:+.1f} pt")  # fmt: skip
    old, new = found.champion_metrics, found.candidate_metrics
    for name, a, b in [
        ("macro-F1", old["macro_f1"], new["macro_f1"]),
        ("escalation recall", old["escalation"]["recall"], new["escalation"]["recall"]),
    ]:
        table.add_row(name, f"{a:.3f}", f"{b:.3f}", f"{(b - a) * 100:+.1f} pt", style="bold")
    out.print(table)


def _record_promotion(
    settings: Settings, found: lifecycle.Comparison, by: str | None, reason: str | None,
    force: bool,
) -> None:  # fmt: skip
    try:
        entry = lifecycle.promote(settings.models_dir, found, by=by, reason=reason, force=force)
    except lifecycle.LifecycleError as exc:
        code = NOT_PROMOTED if found.failures and not force else 1
        raise fail(str(exc), code=code) from exc
    forced = " (forced past the gates)" if entry.forced else ""
    out.print(f"promoted {entry.to_version}{forced}; previous champion {entry.from_version}")


By = Annotated[str | None, typer.Option(help="Who is making the change (default: your user name).")]


def promote(
    version: Annotated[str, typer.Argument(help="The version to make champion.")],
    force: Annotated[
        bool, typer.Option("--force", help="Promote even though the gates refuse.")
    ] = False,
    reason: Annotated[
        str | None, typer.Option(help="Why; required with --force, recorded in the history.")
    ] = None,
    by: By = None,
) -> None:
    """Make VERSION the champion if the promotion gates pass.

    Both models are evaluated on the frozen test set now: the candidate's macro-F1 may be at
    most 1 point below the champion's and its escalation recall may not drop. When refused,
    the per-label differences are printed and the exit code is 3; --force with a --reason
    promotes anyway and records both in models/history.jsonl."""
    settings = get_settings()
    if registry.champion(settings.models_dir) == version:
        raise fail(f"{version} is already the champion")
    found = comparison(settings, version)
    print_comparison(found)
    _record_promotion(settings, found, by, reason, force)


def rollback(
    reason: Annotated[str | None, typer.Option(help="Why; recorded in the history.")] = None,
    by: By = None,
) -> None:
    """Go back to the previous champion, as models/history.jsonl records it."""
    settings = get_settings()
    labels = load_catalogue(settings.catalogue).ids
    try:
        entry = lifecycle.rollback(settings.models_dir, labels, by=by, reason=reason)
    except lifecycle.LifecycleError as exc:
        raise fail(str(exc)) from exc
    out.print(f"rolled back from {entry.from_version} to {entry.to_version}")


def retrain(
    data: Annotated[
        Path | None, typer.Option(help="Training JSONL (default: CT_TRAINING_DATA).")
    ] = None,
    no_feedback: Annotated[
        bool, typer.Option("--no-feedback", help="Leave out the agents' corrections.")
    ] = False,
    by: By = None,
) -> None:
    """Train with feedback, compare, and promote only if the gates pass (for nightly runs).

    Trains a new version on the training data plus the agents' corrections, evaluates it and
    the champion on the frozen test set, and promotes it only if the promotion gates pass.
    Exit code 0 when promoted, 3 when the gates refused, 1 on an error."""
    settings = settings_for(data, None)
    usable = usable_champion(settings)
    version, metadata = train_version(settings, include_feedback=not no_feedback)
    out.print(f"trained {version} ({test_summary(metadata)})")
    if usable is None:
        lifecycle.record_first(settings.models_dir, version, by)
        out.print(f"promoted {version}: there was no usable champion")
        return
    found = comparison(settings, version)
    print_comparison(found)
    if not found.passed:
        out.print(f"not promoted: {'; '.join(found.failures)}; {usable} stays champion")
        raise typer.Exit(NOT_PROMOTED)
    _record_promotion(settings, found, by, "retrain: the gates passed", False)
