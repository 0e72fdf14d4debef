"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from classifier.case import CaseContext, InputModel, Money, complaint_text
from classifier.catalogue import DEPARTMENT_IDS
from classifier.document import triage_document
from classifier.store import Correction, Feedback, Handoff, StoredTriage
from classifier.triage import TriageResult

MAX_TEXT_CHARS = 20_000


class Customer(InputModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=120)
    tier: str | None = Field(None, max_length=32, examples=["vip"])
    previous_contacts: int = Field(0, ge=0, le=1000)
    language: str | None = Field(None, max_length=16)


class TriageRequest(InputModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=MAX_TEXT_CHARS, description="The complaint as written.")
    case_ref: str | None = Field(None, max_length=64, examples=["CRM-1234"])
    channel: str | None = Field(None, max_length=32, examples=["email"])
    customer: Customer = Field(default_factory=Customer)
    amount: Money | None = None

    _not_blank = field_validator("text")(complaint_text)

    def context(self) -> CaseContext:
        return CaseContext(
            case_ref=self.case_ref,
            channel=self.channel,
            customer_name=self.customer.name,
            tier=self.customer.tier,
            previous_contacts=self.customer.previous_contacts,
            language=self.customer.language,
            amount=self.amount,
        )


class Quote(BaseModel):
    text: str
    start: int = Field(description="Character offset of the quote in the complaint text.")
    end: int


class DepartmentOut(BaseModel):
    id: str
    name: str
    probability: float
    threshold: float
    evidence: list[str]
    quotes: list[Quote]


class SignalOut(BaseModel):
    reason: str
    phrase: str
    start: int = Field(description="Character offset of the phrase in the complaint text.")
    end: int


class EscalationOut(BaseModel):
    escalate: bool
    probability: float
    reasons: list[str]
    evidence: list[str]
    signals: list[SignalOut]


class HandoffOut(BaseModel):
    id: str = Field(description="The handoff's id, for /v1/handoffs/{id}/sent and /ack.")
    department: str
    name: str
    subject: str
    body: str
    due: datetime


class MessageOut(BaseModel):
    subject: str
    body: str
    reply_by: datetime


class TriageResponse(BaseModel):
    triage_id: str
    case_ref: str
    model_version: str
    created: datetime
    departments: list[DepartmentOut]
    probabilities: dict[str, float]
    escalation: EscalationOut
    needs_review: bool
    review_reasons: list[str]
    language: str | None = Field(description="Detected language code; null if too short.")
    summary: str
    handoffs: list[HandoffOut]
    customer_message: MessageOut
    stored: bool = Field(
        True,
        description="False when the database stayed locked past the busy timeout: the triage "
        "is valid but was not stored, so its triage_id and handoff ids cannot be used for "
        "feedback, acknowledgements or GET /v1/triages/{id}; triage the complaint again to "
        "store it.",
    )

    @classmethod
    def from_result(cls, result: TriageResult, names: dict[str, str]) -> TriageResponse:
        return cls.model_validate(triage_document(result, names))


class RefusedModel(BaseModel):
    version: str
    reason: str


class ModelInfo(BaseModel):
    version: str = Field(description="The version serving requests now.")
    metadata: dict[str, object]
    refused: RefusedModel | None = Field(
        None, description="The champion on disk that failed verification and is not served."
    )


class EditedDraft(InputModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(max_length=500)
    body: str = Field(max_length=MAX_TEXT_CHARS)


def _known_departments(value: list[str]) -> list[str]:
    unknown = sorted(set(value) - set(DEPARTMENT_IDS))
    if unknown:
        raise ValueError(
            f"unknown department id(s) {', '.join(unknown)}; known: {', '.join(DEPARTMENT_IDS)}"
        )
    return value


class FeedbackIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    triage_id: str = Field(max_length=36)
    departments: list[str] = Field(
        max_length=len(DEPARTMENT_IDS), description="The departments that must act, corrected."
    )
    escalate: bool = Field(description="Whether the complaint must be escalated, corrected.")
    author: str = Field("agent", min_length=1, max_length=120, description="Who corrected it.")
    handoffs: dict[str, EditedDraft] | None = Field(
        None, description="Handoff notes as the agent edited them, by department id."
    )
    customer_message: EditedDraft | None = None
    comment: str | None = Field(None, max_length=2000)

    _departments = field_validator("departments")(_known_departments)

    @field_validator("handoffs")
    @classmethod
    def _handoff_departments(
        cls, value: dict[str, EditedDraft] | None
    ) -> dict[str, EditedDraft] | None:
        if value is not None:
            _known_departments(list(value))
        return value

    @field_validator("escalate")
    @classmethod
    def _senior_management_escalates(cls, value: bool, info: ValidationInfo) -> bool:
        # departments is declared first, so it is validated (or missing) by now
        if "senior_management" in info.data.get("departments", []) and not value:
            raise ValueError("must be true when senior_management is a department")
        return value

    def correction(self) -> Correction:
        return Correction(
            departments=tuple(dict.fromkeys(self.departments)),
            escalate=self.escalate,
            author=self.author,
            handoffs=(
                {d: e.model_dump() for d, e in self.handoffs.items()} if self.handoffs else None
            ),
            customer_message=self.customer_message.model_dump() if self.customer_message else None,
            comment=self.comment,
        )


class FeedbackOut(BaseModel):
    feedback_id: int
    triage_id: str
    departments: list[str]
    escalate: bool
    author: str
    created: datetime

    @classmethod
    def of(cls, feedback: Feedback) -> FeedbackOut:
        return cls(
            feedback_id=feedback.id,
            triage_id=feedback.triage_id,
            departments=list(feedback.departments),
            escalate=feedback.escalate,
            author=feedback.author,
            created=feedback.created,
        )


class HandoffState(BaseModel):
    id: str
    triage_id: str
    case_ref: str
    department: str
    subject: str
    body: str
    due: datetime
    status: str = Field(description="drafted, sent or acknowledged")
    overdue: bool = Field(description="Past its service level and not acknowledged.")
    sent_at: datetime | None
    sent_by: str | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledgement_note: str | None

    @classmethod
    def of(cls, handoff: Handoff, now: datetime) -> HandoffState:
        fields = {k: getattr(handoff, k) for k in cls.model_fields if k != "overdue"}
        return cls(**fields, overdue=handoff.overdue(now))


class SentIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    by: str = Field("agent", min_length=1, max_length=120)
    subject: str | None = Field(None, max_length=500, description="The note as sent, if edited.")
    body: str | None = Field(None, max_length=MAX_TEXT_CHARS)


class AckIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    by: str = Field(min_length=1, max_length=120, description="Who in the department confirms.")
    note: str | None = Field(None, max_length=2000)


class StoredTriageOut(BaseModel):
    triage: TriageResponse
    text: str
    context: dict[str, object]
    handoffs: list[HandoffState]
    feedback: list[FeedbackOut]

    @classmethod
    def of(cls, stored: StoredTriage, now: datetime) -> StoredTriageOut:
        return cls(
            triage=TriageResponse.model_validate(stored.result),
            text=stored.text,
            context=stored.context,
            handoffs=[HandoffState.of(h, now) for h in stored.handoffs],
            feedback=[FeedbackOut.of(f) for f in stored.feedback],
        )


class ErasureOut(BaseModel):
    case_ref: str
    dry_run: bool = Field(description="True: nothing was removed, the counts say what would be.")
    triages: int = Field(description="Triages removed, with their handoffs and feedback.")
    handoffs: int
    feedback: int = Field(description="Corrections removed, edited drafts included.")
    triage_ids: list[str]
