"""What the store gives and takes: triages, handoffs and corrections as frozen data."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class NewHandoff:
    id: str
    department: str
    subject: str
    body: str
    due: datetime


@dataclass(frozen=True)
class NewTriage:
    """A triage to store with its handoffs, for `Store.save_triages`."""

    triage_id: str
    case_ref: str
    created: datetime
    model_version: str
    text: str
    context: dict[str, Any]
    result: dict[str, Any]
    escalate: bool
    needs_review: bool
    handoffs: tuple[NewHandoff, ...]


@dataclass(frozen=True)
class Handoff:
    id: str
    triage_id: str
    case_ref: str
    department: str
    subject: str
    body: str
    due: datetime
    status: str
    sent_at: datetime | None
    sent_by: str | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledgement_note: str | None

    def overdue(self, now: datetime) -> bool:
        """Past its service level and not yet confirmed by the department."""
        return self.status != "acknowledged" and self.due < now


@dataclass(frozen=True)
class Correction:
    """What an agent says the triage should have been."""

    departments: tuple[str, ...]
    escalate: bool
    author: str
    handoffs: dict[str, dict[str, str]] | None = None
    customer_message: dict[str, str] | None = None
    comment: str | None = None

    def fingerprint(self, triage_id: str) -> str:
        """The same request gives the same digest, whatever the order of its departments."""
        body = {
            "triage_id": triage_id,
            "departments": sorted(self.departments),
            "escalate": self.escalate,
            "author": self.author,
            "handoffs": self.handoffs,
            "customer_message": self.customer_message,
            "comment": self.comment,
        }
        encoded = json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(encoded).hexdigest()


@dataclass(frozen=True)
class Feedback:
    id: int
    triage_id: str
    departments: tuple[str, ...]
    escalate: bool
    author: str
    created: datetime
    handoffs: dict[str, dict[str, str]] | None
    customer_message: dict[str, str] | None
    comment: str | None
    idempotency_key: str | None


@dataclass(frozen=True)
class StoredTriage:
    id: str
    case_ref: str
    created: datetime
    model_version: str
    text: str
    context: dict[str, Any]
    result: dict[str, Any]
    escalate: bool
    needs_review: bool
    handoffs: tuple[Handoff, ...]
    feedback: tuple[Feedback, ...]

    @property
    def departments(self) -> tuple[str, ...]:
        """The predicted departments, most probable first."""
        return tuple(d["id"] for d in self.result.get("departments", []))

    @property
    def latest_feedback(self) -> Feedback | None:
        return self.feedback[-1] if self.feedback else None


@dataclass(frozen=True)
class TrainingExample:
    """A corrected triage as a training record: the correction wins over the prediction."""

    triage_id: str
    text: str
    departments: tuple[str, ...]
    escalate: bool
    channel: str | None
    corrected: datetime
