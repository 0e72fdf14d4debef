"""The pages' forms as typed values: what was typed, kept to show again, and what it means.

Every field arrives as text (HTML forms have no other type), so nothing here is rejected by
FastAPI before it reaches us: bad input becomes a list of plain sentences on the page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from classifier.api.schemas import Customer, FeedbackIn, TriageRequest
from classifier.case import Money
from classifier.catalogue import DEPARTMENT_IDS
from classifier.store import Correction, Feedback

TIERS = ("", "standard", "gold", "vip")
DEFAULT_AUTHOR = "agent"

# How a field of the request schemas is named on the page.
_FIELD_NAMES = {
    "text": "Complaint text",
    "case_ref": "Case reference",
    "customer.tier": "Customer tier",
    "customer.previous_contacts": "Previous contacts",
    "amount.value": "Amount",
    "amount.currency": "Currency",
    "departments": "Departments",
    "escalate": "Escalate",
    "author": "Your name",
    "comment": "Comment",
    "by": "Name",
    "note": "Note",
    "subject": "Subject",
    "body": "Text",
}


class FormError(ValueError):
    """The form cannot be used as it is; `messages` say why, one sentence each."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def messages_of(exc: ValidationError, prefix: str = "") -> list[str]:
    """One sentence per error, naming the field as the page labels it."""
    result = []
    for error in exc.errors():
        where = prefix + ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        result.append(f"{_FIELD_NAMES.get(where, where)}: {message}")
    return result


def _number(value: str) -> float:
    """A number as people type it: `89.99`, `89,99` or `1,250.00`."""
    cleaned = value.strip().replace(" ", "")
    if "," in cleaned and "." not in cleaned and cleaned.count(",") == 1:
        cleaned = cleaned.replace(",", ".")
    return float(cleaned.replace(",", ""))


@dataclass(frozen=True)
class TriageForm:
    text: str = ""
    case_ref: str = ""
    tier: str = ""
    previous_contacts: str = "0"
    amount: str = ""
    currency: str = "EUR"

    def request(self) -> TriageRequest:
        """The API request this form stands for. Raises FormError."""
        problems = []
        contacts = 0
        try:
            contacts = int(self.previous_contacts.strip() or 0)
        except ValueError:
            problems.append("Previous contacts: must be a whole number")
        amount = None
        if self.amount.strip():
            try:
                value = _number(self.amount)
                amount = Money(value=value, currency=self.currency.strip().upper() or "EUR")
            except ValueError as exc:
                problems += (
                    messages_of(exc, prefix="amount.")
                    if isinstance(exc, ValidationError)
                    else ["Amount: must be a number, e.g. 89.99"]
                )
        try:
            request = TriageRequest(
                text=self.text,
                case_ref=self.case_ref.strip() or None,
                customer=Customer(tier=self.tier or None, previous_contacts=contacts),
                amount=amount,
            )
        except ValidationError as exc:
            problems += messages_of(exc)
        if problems:
            raise FormError(problems)
        return request


def new_key() -> str:
    """An idempotency key for one rendering of the correction form: a double click sends
    the same key twice and the second one stores nothing."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class CorrectionForm:
    """The correction form as shown: ticked departments, the escalation toggle, and what
    happened to the last save."""

    departments: frozenset[str]
    escalate: bool
    author: str = ""
    comment: str = ""
    key: str = field(default_factory=new_key)
    saved: Feedback | None = None
    replayed: bool = False
    errors: list[str] = field(default_factory=list)

    @classmethod
    def submitted(
        cls, departments: list[str], escalate: str, author: str, comment: str, key: str
    ) -> CorrectionForm:
        return cls(
            departments=frozenset(departments),
            escalate=escalate.strip().lower() in ("on", "true", "1", "yes"),
            author=author.strip(),
            comment=comment.strip(),
            key=key.strip() or new_key(),
        )

    def correction(self, triage_id: str) -> Correction:
        """The correction to store, checked by the API's own rules. Raises FormError."""
        try:
            body = FeedbackIn(
                triage_id=triage_id,
                # in catalogue order, so the stored row reads the same whatever was clicked
                departments=[d for d in DEPARTMENT_IDS if d in self.departments]
                + sorted(self.departments - set(DEPARTMENT_IDS)),
                escalate=self.escalate,
                author=self.author or DEFAULT_AUTHOR,
                comment=self.comment or None,
            )
        except ValidationError as exc:
            raise FormError(messages_of(exc)) from exc
        return body.correction()


def yes_no(value: str) -> bool | None:
    """A filter's `yes`/`no`; anything else means "either"."""
    return {"yes": True, "no": False}.get(value.strip().lower())


@dataclass(frozen=True)
class TriageFilters:
    department: str = ""
    escalated: str = ""
    needs_review: str = ""
    unacknowledged: str = ""

    @property
    def errors(self) -> list[str]:
        if self.department and self.department not in DEPARTMENT_IDS:
            return [f"Department: unknown id {self.department!r}; showing all departments"]
        return []

    def query(self) -> dict[str, Any]:
        """Keyword arguments of `Store.triages`."""
        return {
            "department": self.department if self.department in DEPARTMENT_IDS else None,
            "escalated": yes_no(self.escalated),
            "needs_review": yes_no(self.needs_review),
            "unacknowledged": yes_no(self.unacknowledged),
        }
