"""Promotion gates, rollback and the promotion history: how the champion changes.

Every change of champion is one line in ``models/history.jsonl`` (who, when, from, to, why),
written after the pointer is switched and synced. Changes are serialised by a lock file in
``models/``, so two analysts promoting at once take turns. Rollback replays the history as a
stack: a promotion (or the first champion) pushes a version, a rollback pops one.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from classifier import registry

HISTORY = "history.jsonl"
_LOCK = ".lock"
# A candidate may lose at most this much macro-F1 against the champion, and no escalation recall.
MAX_MACRO_F1_DROP = 0.01
_EPSILON = 1e-9  # figures equal to the last printed digit are equal


class LifecycleError(RuntimeError):
    """A champion change that cannot be made, with the reason."""


@dataclass(frozen=True)
class LabelDifference:
    label: str
    champion_f1: float
    candidate_f1: float

    @property
    def change(self) -> float:
        return self.candidate_f1 - self.champion_f1


@dataclass(frozen=True)
class Comparison:
    """A candidate measured beside the champion on the same (frozen test) data."""

    candidate: str
    champion: str | None
    candidate_metrics: dict[str, Any]
    champion_metrics: dict[str, Any] | None
    per_label: tuple[LabelDifference, ...]
    failures: tuple[str, ...]  # why the gates refuse; empty when they pass

    @property
    def passed(self) -> bool:
        return not self.failures


def compare(
    candidate: str,
    candidate_metrics: dict[str, Any],
    champion: str | None,
    champion_metrics: dict[str, Any] | None,
) -> Comparison:
    """Apply the promotion gates to two evaluations (`evaluation.evaluate` results)."""
    if champion_metrics is None:
        return Comparison(candidate, champion, candidate_metrics, None, (), ())
    labels = [*candidate_metrics["per_label"]]
    per_label = tuple(
        LabelDifference(
            label,
            champion_metrics["per_label"][label]["f1"],
            candidate_metrics["per_label"][label]["f1"],
        )
        for label in labels
    )
    failures = []
    drop = champion_metrics["macro_f1"] - candidate_metrics["macro_f1"]
    if drop > MAX_MACRO_F1_DROP + _EPSILON:
        failures.append(
            f"macro-F1 {candidate_metrics['macro_f1']:.3f} is {drop * 100:.1f} points below the "
            f"champion's {champion_metrics['macro_f1']:.3f} (at most "
            f"{MAX_MACRO_F1_DROP * 100:.0f} allowed)"
        )
    old, new = champion_metrics["escalation"]["recall"], candidate_metrics["escalation"]["recall"]
    if new < old - _EPSILON:
        failures.append(f"escalation recall drops from {old:.3f} to {new:.3f} (no drop allowed)")
    return Comparison(
        candidate, champion, candidate_metrics, champion_metrics, per_label, tuple(failures)
    )


@dataclass(frozen=True)
class HistoryEntry:
    action: str  # "first" (the first champion), "promote" or "rollback"
    at: str
    by: str
    from_version: str | None
    to_version: str
    reason: str | None = None
    forced: bool = False
    gates: dict[str, Any] = field(default_factory=dict)


def who() -> str:
    """The analyst making the change, as the operating system knows them."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (in some containers)
        return f"uid {os.getuid()}"


@contextmanager
def locked(models_dir: Path) -> Iterator[None]:
    """Hold the models directory's lock: one champion change at a time, across processes."""
    models_dir.mkdir(parents=True, exist_ok=True)
    with (models_dir / _LOCK).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def history(models_dir: Path) -> list[HistoryEntry]:
    """The recorded champion changes, oldest first. A torn last line (a crash while writing
    it) is skipped: the pointer, written before it, is the truth."""
    path = models_dir / HISTORY
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(HistoryEntry(**json.loads(line)))
        except (json.JSONDecodeError, TypeError):
            continue
    return entries


def _append(models_dir: Path, entry: HistoryEntry) -> None:
    line = json.dumps(asdict(entry), ensure_ascii=False) + "\n"
    fd = os.open(models_dir / HISTORY, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _switch(models_dir: Path, entry: HistoryEntry) -> HistoryEntry:
    registry.set_champion(models_dir, entry.to_version)
    _append(models_dir, entry)
    return entry


def record_first(models_dir: Path, version: str, by: str | None = None) -> HistoryEntry:
    """Make `version` champion where there is no usable one (the first model trained)."""
    with locked(models_dir):
        previous = registry.champion(models_dir)
        entry = HistoryEntry("first", _now(), by or who(), previous, version,
                             reason="no usable champion")  # fmt: skip
        return _switch(models_dir, entry)


def promote(
    models_dir: Path,
    comparison: Comparison,
    *,
    by: str | None = None,
    reason: str | None = None,
    force: bool = False,
) -> HistoryEntry:
    """Make the compared candidate champion if the gates pass, or when forced with a reason."""
    if not comparison.passed and not force:
        raise LifecycleError("the promotion gates refuse: " + "; ".join(comparison.failures))
    if force and not (reason and reason.strip()):
        raise LifecycleError("--force needs a --reason, which is recorded in the history")
    with locked(models_dir):
        current = registry.champion(models_dir)
        if current != comparison.champion:
            raise LifecycleError(
                f"the champion changed to {current} while {comparison.candidate} was being "
                "compared; compare again"
            )
        if current == comparison.candidate:
            raise LifecycleError(f"{current} is already the champion")
        gates = {
            "passed": comparison.passed,
            "failures": list(comparison.failures),
            "candidate_macro_f1": comparison.candidate_metrics["macro_f1"],
            "candidate_escalation_recall": comparison.candidate_metrics["escalation"]["recall"],
        }
        if comparison.champion_metrics is not None:
            gates["champion_macro_f1"] = comparison.champion_metrics["macro_f1"]
            gates["champion_escalation_recall"] = comparison.champion_metrics["escalation"][
                "recall"
            ]
        entry = HistoryEntry(
            "promote",
            _now(),
            by or who(),
            current,
            comparison.candidate,
            reason=reason,
            forced=force and not comparison.passed,
            gates=gates,
        )
        return _switch(models_dir, entry)


def champions(entries: list[HistoryEntry]) -> list[str]:
    """The champion stack the history describes: promotions push, rollbacks pop."""
    stack: list[str] = []
    for entry in entries:
        if entry.action == "rollback":
            if stack:
                stack.pop()
            continue
        # A change whose line was lost (a crash after the pointer switch) shows as a
        # promotion from a version the stack does not end at: that version was champion.
        # ("first" replaces an unusable champion: nothing to go back to.)
        if entry.action == "promote" and entry.from_version and stack[-1:] != [entry.from_version]:
            stack.append(entry.from_version)
        stack.append(entry.to_version)
    return stack


def rollback_target(models_dir: Path) -> str:
    """The champion before the current one, or why there is none."""
    current = registry.champion(models_dir)
    stack = champions(history(models_dir))
    if not stack or stack[-1] != current:
        raise LifecycleError(
            f"the history in {models_dir / HISTORY} does not end at the champion {current}; "
            "choose the version with `complaint-triage promote VERSION --force --reason ...`"
        )
    if len(stack) < 2:
        raise LifecycleError(
            f"{current} is the first recorded champion; there is nothing before it"
        )
    return stack[-2]


def rollback(
    models_dir: Path, labels: tuple[str, ...], *, by: str | None = None, reason: str | None = None
) -> HistoryEntry:
    """Return to the previous champion, after checking that it still loads and verifies."""
    with locked(models_dir):
        target = rollback_target(models_dir)
        try:
            registry.load(models_dir, target, labels)
        except registry.ArtefactError as exc:
            raise LifecycleError(f"cannot roll back to {target}: {exc}") from exc
        entry = HistoryEntry("rollback", _now(), by or who(), registry.champion(models_dir),
                             target, reason=reason)  # fmt: skip
        return _switch(models_dir, entry)
