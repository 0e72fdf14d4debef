"""Training a version from the command line: data, feedback, progress bar, registry."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from classifier import registry
from classifier.catalogue import load_catalogue
from classifier.cli.console import err, fail
from classifier.cli.feedback import load_feedback
from classifier.data import DatasetError, load_records
from classifier.feedback import jsonl_lines, merge
from classifier.settings import Settings, get_settings
from classifier.training import model_card, new_model, train_model


def settings_for(data: Path | None, test: Path | None, seed: int | None = None) -> Settings:
    """The settings with a command's --data, --test and --seed applied."""
    overrides: dict[str, Any] = {}
    if data:
        overrides["training_data"] = data.resolve()
    if test:
        overrides["test_data"] = test.resolve()
    if seed is not None:
        overrides["seed"] = seed
    return get_settings().model_copy(update=overrides)


def usable_champion(settings: Settings) -> str | None:
    """The champion's version if it loads and verifies; otherwise None, saying why."""
    if registry.champion(settings.models_dir) is None:
        return None
    try:
        return registry.load_champion(
            settings.models_dir, load_catalogue(settings.catalogue).ids
        ).version
    except registry.ArtefactError as exc:
        err.print(f"the champion is not usable: {exc}")
        return None


def train_version(settings: Settings, *, include_feedback: bool) -> tuple[str, dict[str, Any]]:
    """Fit, measure on the frozen test set and save a new version; its name and metadata."""
    try:
        train_records = load_records(settings.training_data)
        test_records = load_records(settings.test_data) if settings.test_data.exists() else []
    except DatasetError as exc:
        raise fail(str(exc)) from exc
    feedback: dict[str, Any] | None = None
    if include_feedback:
        found = load_feedback(settings)
        train_records, replaced = merge(train_records, found.records)
        feedback = {
            "records": len(found.records),
            "replaced_training_records": replaced,
            "left_out_in_test_set": found.in_test_set,
            "sha256": hashlib.sha256("".join(jsonl_lines(found.records)).encode()).hexdigest(),
        }
        err.print(
            f"adding {len(found.records)} corrected triage(s) from feedback"
            f" ({replaced} replace training records with the same text)",
            highlight=False,
        )
    steps = new_model(settings).cv + 2  # features, the cross-validation folds, the final fit
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
    ) as progress:
        task = progress.add_task("training", total=steps)

        def advance(message: str) -> None:
            progress.update(task, advance=1, description=message)

        model, metadata = train_model(train_records, test_records, settings, progress=advance)
    version = registry.new_version()
    metadata["version"] = version
    metadata["feedback"] = feedback
    registry.save(settings.models_dir, model, metadata, model_card(metadata), version)
    return version, metadata


def test_summary(metadata: dict[str, Any]) -> str:
    results = metadata.get("test_metrics")
    if not results:
        return "no test set"
    return (
        f"test macro-F1 {results['macro_f1']:.3f}, "
        f"escalation recall {results['escalation']['recall']:.3f}"
    )
