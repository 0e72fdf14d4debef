"""Promotion gates, rollback and the history, directly and through the command line."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from classifier import lifecycle, registry
from classifier.catalogue import DEPARTMENT_IDS
from classifier.cli import app
from classifier.data import Record
from classifier.evaluation import label_matrix
from classifier.model import TriageModel
from classifier.settings import get_settings

runner = CliRunner()


def figures(macro: float, recall: float, f1: float = 0.5) -> dict[str, Any]:
    return {
        "macro_f1": macro,
        "escalation": {"recall": recall},
        "per_label": {d: {"f1": f1} for d in DEPARTMENT_IDS},
    }


def test_gates_allow_one_point_of_macro_f1_and_no_escalation_recall() -> None:
    champion = figures(0.80, 0.95)
    assert lifecycle.compare("b", figures(0.79, 0.95), "a", champion).passed
    assert lifecycle.compare("b", figures(0.85, 0.97), "a", champion).passed
    worse = lifecycle.compare("b", figures(0.785, 0.95, f1=0.4), "a", champion)
    assert not worse.passed
    assert "1.5 points below" in worse.failures[0]
    assert {d.label for d in worse.per_label} == set(DEPARTMENT_IDS)
    assert all(d.change == pytest.approx(-0.1) for d in worse.per_label)
    recall = lifecycle.compare("b", figures(0.90, 0.949), "a", champion)
    assert recall.failures == ("escalation recall drops from 0.950 to 0.949 (no drop allowed)",)
    assert lifecycle.compare("b", figures(0.1, 0.1), None, None).passed  # nothing to beat


@pytest.fixture
def three_versions(tmp_path: Path, tiny_model: TriageModel) -> tuple[Path, list[str]]:
    """A models directory with versions a, b, c (the same model) and a as first champion."""
    models_dir = tmp_path / "models"
    names = [f"2026-01-0{i}T00-00-00Z-00000{i}" for i in (1, 2, 3)]
    for name in names:
        registry.save(models_dir, tiny_model, {"labels": list(DEPARTMENT_IDS)}, "", name)
    lifecycle.record_first(models_dir, names[0], by="ana")
    return models_dir, names


def promote(models_dir: Path, version: str, **kwargs: Any) -> lifecycle.HistoryEntry:
    current = registry.champion(models_dir)
    found = lifecycle.compare(version, figures(0.8, 0.9), current, figures(0.8, 0.9))
    return lifecycle.promote(models_dir, found, **kwargs)


def test_promote_and_rollback_walk_the_champion_stack_and_record_who_when_why(
    three_versions: tuple[Path, list[str]],
) -> None:
    models_dir, (a, b, c) = three_versions
    promote(models_dir, b, by="ben", reason="more data")
    promote(models_dir, c, by="ben")
    assert registry.champion(models_dir) == c
    entry = lifecycle.rollback(models_dir, DEPARTMENT_IDS, by="cy", reason="c misroutes refunds")
    assert (entry.from_version, entry.to_version, entry.by) == (c, b, "cy")
    assert registry.champion(models_dir) == b
    lifecycle.rollback(models_dir, DEPARTMENT_IDS)
    assert registry.champion(models_dir) == a
    with pytest.raises(lifecycle.LifecycleError, match="first recorded champion"):
        lifecycle.rollback(models_dir, DEPARTMENT_IDS)
    lines = (models_dir / lifecycle.HISTORY).read_text().splitlines()
    recorded = [json.loads(line) for line in lines]
    assert [(r["action"], r["from_version"], r["to_version"]) for r in recorded] == [
        ("first", None, a),
        ("promote", a, b),
        ("promote", b, c),
        ("rollback", c, b),
        ("rollback", b, a),
    ]
    assert recorded[1]["by"] == "ben" and recorded[1]["reason"] == "more data"
    assert recorded[3]["reason"] == "c misroutes refunds"
    assert all(r["at"].endswith("+00:00") for r in recorded)


def test_refused_promotion_changes_nothing_and_force_needs_a_reason(
    three_versions: tuple[Path, list[str]],
) -> None:
    models_dir, (a, b, _) = three_versions
    worse = lifecycle.compare(b, figures(0.70, 0.9), a, figures(0.80, 0.9))
    with pytest.raises(lifecycle.LifecycleError, match="gates refuse: macro-F1"):
        lifecycle.promote(models_dir, worse)
    with pytest.raises(lifecycle.LifecycleError, match="needs a --reason"):
        lifecycle.promote(models_dir, worse, force=True, reason=" ")
    assert registry.champion(models_dir) == a
    assert len(lifecycle.history(models_dir)) == 1
    entry = lifecycle.promote(models_dir, worse, force=True, reason="hotfix for a new product")
    assert entry.forced and entry.gates["failures"] == list(worse.failures)
    assert registry.champion(models_dir) == b


def test_a_champion_changed_during_the_comparison_is_not_overwritten(
    three_versions: tuple[Path, list[str]],
) -> None:
    models_dir, (a, b, c) = three_versions
    stale = lifecycle.compare(c, figures(0.8, 0.9), a, figures(0.8, 0.9))
    promote(models_dir, b)
    with pytest.raises(lifecycle.LifecycleError, match="champion changed"):
        lifecycle.promote(models_dir, stale)
    assert registry.champion(models_dir) == b


def test_rollback_refuses_a_previous_champion_that_no_longer_verifies(
    three_versions: tuple[Path, list[str]],
) -> None:
    models_dir, (a, b, _) = three_versions
    promote(models_dir, b)
    artefact = models_dir / a / registry.ARTEFACT
    artefact.write_bytes(artefact.read_bytes()[:-10])
    with pytest.raises(lifecycle.LifecycleError, match=f"cannot roll back to {a}: .*truncated"):
        lifecycle.rollback(models_dir, DEPARTMENT_IDS)
    assert registry.champion(models_dir) == b


def test_a_torn_last_history_line_is_skipped_and_a_hand_moved_pointer_is_reported(
    three_versions: tuple[Path, list[str]],
) -> None:
    models_dir, (a, b, c) = three_versions
    promote(models_dir, b)
    with (models_dir / lifecycle.HISTORY).open("a") as handle:
        handle.write('{"action": "promote", "at": "2026-')  # a crash in mid-write
    assert [e.to_version for e in lifecycle.history(models_dir)] == [a, b]
    assert lifecycle.rollback_target(models_dir) == a
    registry.set_champion(models_dir, c)  # by hand, outside the lifecycle
    with pytest.raises(lifecycle.LifecycleError, match="does not end at the champion"):
        lifecycle.rollback(models_dir, DEPARTMENT_IDS)


# -- the commands --------------------------------------------------------------------------


def write_jsonl(path: Path, records: list[Record]) -> Path:
    rows = [
        {"id": r.id, "text": r.text, "departments": list(r.departments), "escalate": r.escalate}
        for r in records
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def weak_model(tiny_records: list[Record]) -> TriageModel:
    """A model fitted on 45 complaints: clearly worse than the tiny model on the same test."""
    few = tiny_records[:45]
    return TriageModel(cv=3, random_state=7).fit(
        [r.text for r in few], label_matrix(few, DEPARTMENT_IDS)
    )


@pytest.fixture
def analyst(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tiny_records: list[Record],
    tiny_model: TriageModel,
    weak_model: TriageModel,
) -> Iterator[tuple[Path, str, str]]:
    """Settings for the commands: champion = the tiny model, and a weaker candidate."""
    models_dir = tmp_path / "models"
    good, weak = "2026-03-01T00-00-00Z-900d00", "2026-03-02T00-00-00Z-000bad"
    registry.save(models_dir, tiny_model, {"labels": list(DEPARTMENT_IDS)}, "", good)
    registry.save(models_dir, weak_model, {"labels": list(DEPARTMENT_IDS)}, "", weak)
    lifecycle.record_first(models_dir, good, by="ana")
    monkeypatch.setenv("CT_MODELS_DIR", str(models_dir))
    monkeypatch.setenv(
        "CT_TEST_DATA", str(write_jsonl(tmp_path / "test.jsonl", tiny_records[240:]))
    )
    monkeypatch.setenv("CT_DATABASE_URL", f"sqlite:///{tmp_path / 'var' / 'db.sqlite'}")
    get_settings.cache_clear()
    yield models_dir, good, weak
    get_settings.cache_clear()


def test_models_list_shows_versions_figures_and_the_champion(
    analyst: tuple[Path, str, str],
) -> None:
    _, good, weak = analyst
    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 0, result.output
    (good_line,) = [line for line in result.output.splitlines() if good in line]
    assert good_line.split()[0] == "champion"
    (weak_line,) = [line for line in result.output.splitlines() if weak in line]
    assert "champion" not in weak_line
    rows = [
        json.loads(line)
        for line in runner.invoke(app, ["models", "list", "--json"]).output.splitlines()
    ]
    assert [(r["version"], r["champion"]) for r in rows] == [(good, True), (weak, False)]


def test_promote_refuses_a_worse_model_with_the_per_label_differences(
    analyst: tuple[Path, str, str],
) -> None:
    models_dir, good, weak = analyst
    refused = runner.invoke(app, ["promote", weak])
    assert refused.exit_code == 3, refused.output
    assert "the promotion gates refuse" in refused.output
    for label in DEPARTMENT_IDS:
        assert f"{label} F1" in refused.output
    assert " pt" in refused.output and "macro-F1" in refused.output
    assert registry.champion(models_dir) == good

    no_reason = runner.invoke(app, ["promote", weak, "--force"])
    assert no_reason.exit_code == 1 and "needs a --reason" in no_reason.output
    forced = runner.invoke(
        app, ["promote", weak, "--force", "--reason", "urgent label change", "--by", "ana"]
    )
    assert forced.exit_code == 0, forced.output
    assert f"promoted {weak} (forced past the gates)" in forced.output
    last = lifecycle.history(models_dir)[-1]
    assert (last.by, last.reason, last.forced) == ("ana", "urgent label change", True)

    back = runner.invoke(app, ["rollback", "--reason", "too many misroutes"])
    assert back.exit_code == 0, back.output
    assert f"rolled back from {weak} to {good}" in back.output
    assert registry.champion(models_dir) == good
    again = runner.invoke(app, ["rollback"])
    assert again.exit_code == 1 and "first recorded champion" in again.output


@pytest.mark.slow
def test_retrain_promotes_only_when_the_gates_pass(
    analyst: tuple[Path, str, str],
    tmp_path: Path,
    tiny_records: list[Record],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    models_dir, good, weak = analyst
    # Little data: the new model is worse than the champion, so it is kept out.
    monkeypatch.setenv(
        "CT_TRAINING_DATA", str(write_jsonl(tmp_path / "few.jsonl", tiny_records[:45]))
    )
    get_settings.cache_clear()
    refused = runner.invoke(app, ["retrain"])
    assert refused.exit_code == 3, refused.output
    assert "not promoted" in refused.output and f"{good} stays champion" in refused.output
    assert registry.champion(models_dir) == good and len(registry.versions(models_dir)) == 3

    # Against the weak champion, a model trained on 240 complaints passes.
    lifecycle.promote(
        models_dir,
        lifecycle.compare(weak, figures(0, 0), good, figures(0, 0)),
        force=True,
        reason="test: a weak champion",
    )
    monkeypatch.setenv(
        "CT_TRAINING_DATA", str(write_jsonl(tmp_path / "more.jsonl", tiny_records[:240]))
    )
    get_settings.cache_clear()
    promoted = runner.invoke(app, ["retrain", "--by", "nightly"])
    assert promoted.exit_code == 0, promoted.output
    new = registry.champion(models_dir)
    assert new not in (good, weak) and f"promoted {new}" in promoted.output
    last = lifecycle.history(models_dir)[-1]
    assert (last.action, last.by, last.from_version, last.gates["passed"]) == (
        "promote", "nightly", weak, True,
    )  # fmt: skip


def test_a_champion_change_whose_history_line_was_lost_is_still_rolled_back_to(
    three_versions: tuple[Path, list[str]], tiny_model: TriageModel
) -> None:
    models_dir, (a, b, c) = three_versions
    promote(models_dir, b)
    registry.set_champion(models_dir, c)  # switched, then killed before the history line
    d = "2026-01-04T00-00-00Z-000004"
    registry.save(models_dir, tiny_model, {"labels": list(DEPARTMENT_IDS)}, "", d)
    promote(models_dir, d)
    assert lifecycle.rollback(models_dir, DEPARTMENT_IDS).to_version == c
    assert lifecycle.rollback(models_dir, DEPARTMENT_IDS).to_version == b


def test_leftover_staging_folders_are_not_versions_and_cannot_be_champion(
    three_versions: tuple[Path, list[str]],
) -> None:
    models_dir, (a, b, c) = three_versions
    shutil.copytree(models_dir / a, models_dir / f".staging-{a}-x")  # a save cut short
    assert registry.versions(models_dir) == [a, b, c]
    with pytest.raises(registry.ArtefactError, match="no such model version"):
        registry.set_champion(models_dir, f".staging-{a}-x")
    with pytest.raises(registry.ArtefactError, match="no such model version"):
        registry.set_champion(models_dir, f"../{models_dir.name}/{a}")
