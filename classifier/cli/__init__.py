"""The command line: serve, train, evaluate, predict, the model lifecycle and data checks."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from classifier import lifecycle, registry
from classifier.case import CaseContext
from classifier.catalogue import load_catalogue
from classifier.cli.console import err, fail
from classifier.cli.data import data_app, import_records
from classifier.cli.feedback import feedback_app
from classifier.cli.keys import keys_app
from classifier.cli.models import models_app, promote, retrain, rollback
from classifier.cli.retention import erase_command, purge_command
from classifier.cli.scoring import score_batch
from classifier.cli.serving import metrics_directory
from classifier.cli.training import settings_for, test_summary, train_version, usable_champion
from classifier.data import DatasetError, iter_jsonl, load_records
from classifier.evaluation import evaluate as evaluate_model
from classifier.evaluation import format_report
from classifier.policy import EscalationPolicy
from classifier.registry import ModelHolder
from classifier.settings import Settings, get_settings
from classifier.triage import build_service

app = typer.Typer(
    help="Route customer complaints to departments, decide escalation, draft the handoffs.",
    no_args_is_help=True,
    add_completion=False,
)


def _load(settings: Settings, version: str | None) -> registry.LoadedModel:
    labels = load_catalogue(settings.catalogue).ids
    try:
        if version:
            return registry.load(settings.models_dir, version, labels)
        return registry.load_champion(settings.models_dir, labels)
    except registry.ArtefactError as exc:
        raise fail(str(exc)) from exc


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: CT_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: CT_PORT).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the HTTP API and the web page (http://127.0.0.1:8000 by default)."""
    import uvicorn

    from classifier.api.protocol import DRAINING_HTTP
    from classifier.logs import log_config

    settings = get_settings()
    host = host or settings.host
    # The workers read their settings from the environment: they must know the address they
    # are bound to, because anything but loopback makes API keys compulsory.
    os.environ["CT_HOST"] = host
    get_settings.cache_clear()
    with metrics_directory(workers):
        uvicorn.run(
            "classifier.api.app:create_app",
            factory=True,
            host=host,
            port=port or settings.port,
            workers=workers,
            log_config=log_config(settings),  # every worker logs through it
            access_log=False,  # the request-id middleware writes the access line
            http=DRAINING_HTTP,  # requests sent just before SIGTERM are served, not reset
        )


@app.command()
def train(
    data: Annotated[
        Path | None, typer.Option(help="Training JSONL (default: CT_TRAINING_DATA).")
    ] = None,
    test: Annotated[
        Path | None, typer.Option(help="Frozen test JSONL (default: CT_TEST_DATA).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: CT_SEED).")] = None,
    if_missing: Annotated[
        bool,
        typer.Option("--if-missing", help="Do nothing when a usable champion exists."),
    ] = False,
    include_feedback: Annotated[
        bool,
        typer.Option(
            "--include-feedback",
            help="Add the agents' corrected triages from the database (CT_DATABASE_URL) to "
            "the training records; a correction replaces a training record with the same text.",
        ),
    ] = False,
) -> None:
    """Train a new model version; champion only if there is no usable one.

    Every run writes a new version folder in models/ and never overwrites one. Promote it
    afterwards with `complaint-triage promote VERSION`."""
    settings = settings_for(data, test, seed)
    usable = usable_champion(settings)
    if if_missing and usable:
        err.print(f"champion {usable} exists; not training")
        return
    version, metadata = train_version(settings, include_feedback=include_feedback)
    promoted = usable is None
    if promoted:
        lifecycle.record_first(settings.models_dir, version)
    typer.echo(
        f"trained {version} ({test_summary(metadata)}){'; now champion' if promoted else ''}"
    )


@app.command()
def evaluate(
    model: Annotated[str | None, typer.Option(help="Model version (default: champion).")] = None,
    data: Annotated[
        Path | None, typer.Option(help="Labelled JSONL (default: the test set).")
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON here.")
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            help="Write DIR/index.html: curves, calibration, coverage, confusions, worst errors."
        ),
    ] = None,
    compare: Annotated[
        tuple[str, str] | None,
        typer.Option(help="Two versions A B: report B beside A on the same data."),
    ] = None,
) -> None:
    """Per-label precision/recall/F1, micro/macro F1 and escalation figures on labelled data."""
    settings = get_settings()
    loaded = _load(settings, compare[1] if compare else model)
    try:
        records = load_records(data or settings.test_data)
    except DatasetError as exc:
        raise fail(str(exc)) from exc
    policy = EscalationPolicy.of(settings)
    result = {"model_version": loaded.version, "data": str(data or settings.test_data),
              **evaluate_model(loaded.model, records, policy)}  # fmt: skip
    typer.echo(f"model {loaded.version} on {result['data']}\n")
    typer.echo(format_report(result))
    if json_path:
        json_path.write_text(json.dumps(result, indent=2), encoding="utf-8")
        typer.echo(f"\nwrote {json_path}")
    if report or compare:
        # Imported here: matplotlib would add a quarter of a second to every command's start.
        from classifier.report import summary as report_summary
        from classifier.report_page import write_report

        catalogue = load_catalogue(settings.catalogue)

        def summarise(version: registry.LoadedModel) -> dict[str, Any]:
            service = build_service(settings, ModelHolder(version), catalogue)
            return report_summary(version, records, service)

        baseline = summarise(_load(settings, compare[0])) if compare else None
        index = write_report(
            report or Path("reports") / f"evaluation-{loaded.version}",
            summarise(loaded),
            data=result["data"],
            templates_dir=settings.templates_dir,
            baseline=baseline,
        )
        typer.echo(f"wrote {index}")


def _inputs(
    text: str | None, input_file: Path | None
) -> list[tuple[str | None, str, dict[str, Any]]]:
    if input_file is not None:
        items = []
        try:
            for number, obj in iter_jsonl(input_file):
                if (
                    not isinstance(obj, dict)
                    or not isinstance(obj.get("text"), str)
                    or not obj["text"].strip()
                ):
                    raise fail(f"{input_file}:{number}: text: required, a non-empty string")
                context = {k: v for k, v in obj.items() if k not in ("id", "text")}
                items.append((obj.get("id"), obj["text"], context))
        except json.JSONDecodeError as exc:
            raise fail(f"{input_file}:{exc.lineno}: line: not valid JSON: {exc.msg}") from exc
        return items
    if text is None or text == "-":
        text = sys.stdin.read()
    if not text.strip():
        raise fail("no complaint text given (argument, stdin or --input)")
    return [(None, text, {})]


def _context(raw: dict[str, Any]) -> CaseContext:
    allowed = set(CaseContext.model_fields)
    return CaseContext.model_validate({k: v for k, v in raw.items() if k in allowed})


@app.command()
def predict(
    text: Annotated[
        str | None, typer.Argument(help="Complaint text; '-' or nothing reads stdin.")
    ] = None,
    input_file: Annotated[
        Path | None,
        typer.Option(
            "--input", help="JSONL with id and text per line; other fields are case context."
        ),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model version (default: champion).")] = None,
) -> None:
    """Print one JSON line per complaint: id, departments, escalate, probabilities, needs_review."""
    settings = get_settings()
    loaded = _load(settings, model)
    items = _inputs(text, input_file)
    service = build_service(settings, ModelHolder(loaded), load_catalogue(settings.catalogue))
    try:
        contexts = [_context(raw) for _, _, raw in items]
    except ValueError as exc:
        raise fail(f"invalid case context: {exc}") from exc
    results = service.classify_many([t for _, t, _ in items], contexts)
    for (item_id, _, _), result in zip(items, results, strict=True):
        line = {
            "id": item_id,
            "departments": [d.id for d in result.departments],
            "escalate": result.escalation.escalate,
            "probabilities": result.probabilities,
            "needs_review": result.needs_review,
            "model_version": result.model_version,
        }
        typer.echo(json.dumps(line, ensure_ascii=False))


app.add_typer(data_app, name="data")
app.add_typer(feedback_app, name="feedback")
app.add_typer(models_app, name="models")
app.add_typer(keys_app, name="keys")
app.command()(promote)
app.command()(rollback)
app.command()(retrain)
app.command("import")(import_records)
app.command("purge")(purge_command)
app.command("erase")(erase_command)
app.command("score-batch")(score_batch)
