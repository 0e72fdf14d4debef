"""Agents' corrections as training data: the correction wins over the prediction, and the
frozen test set is never touched."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from classifier.data import CHANNELS, Record
from classifier.redact import mask
from classifier.store import Store, TrainingExample


def _key(text: str) -> str:
    # Stored complaints may be masked: compare masked with masked, so a frozen test complaint
    # holding an e-mail address is still recognised when it comes back corrected.
    return " ".join(mask(text).lower().split())


@dataclass(frozen=True)
class FeedbackSet:
    records: list[Record]  # one per corrected triage, its latest correction
    in_test_set: int  # corrected complaints left out because the frozen test set has them


def feedback_records(store: Store, test: Sequence[Record] = ()) -> FeedbackSet:
    """Corrected triages as training records, leaving out any complaint that is in `test`."""
    frozen = {_key(r.text) for r in test}
    records, left_out = [], 0
    for example in store.training_examples():
        if _key(example.text) in frozen:
            left_out += 1
            continue
        records.append(_record(example))
    return FeedbackSet(records, left_out)


def _record(example: TrainingExample) -> Record:
    return Record(
        id=f"fb-{example.triage_id}",
        text=example.text,
        departments=example.departments,
        escalate=example.escalate,
        channel=example.channel if example.channel in CHANNELS else None,
    )


def merge(train: Sequence[Record], corrections: Sequence[Record]) -> tuple[list[Record], int]:
    """`train` plus the corrections; a training record with the same text as a correction
    gives way to it. Returns the records and how many training records were replaced."""
    corrected = {_key(r.text) for r in corrections}
    kept = [r for r in train if _key(r.text) not in corrected]
    return [*kept, *corrections], len(train) - len(kept)


def jsonl_lines(records: Sequence[Record]) -> list[str]:
    """Records in the training-data format, one JSON object per line."""
    lines = []
    for r in records:
        obj: dict[str, object] = {
            "id": r.id,
            "text": r.text,
            "departments": list(r.departments),
            "escalate": r.escalate,
        }
        if r.channel:
            obj["channel"] = r.channel
        lines.append(json.dumps(obj, ensure_ascii=False) + "\n")
    return lines


def write_jsonl(records: Sequence[Record], path: Path) -> None:
    """`jsonl_lines` written whole: a crash leaves the old file or the new, never half."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text("".join(jsonl_lines(records)), encoding="utf-8")
    temporary.replace(path)
