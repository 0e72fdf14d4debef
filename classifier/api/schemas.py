"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from classifier.case import CaseContext, Money
from classifier.triage import TriageResult

MAX_TEXT_CHARS = 20_000


class Customer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=120)
    tier: str | None = Field(None, max_length=32, examples=["vip"])
    previous_contacts: int = Field(0, ge=0, le=1000)
    language: str | None = Field(None, max_length=16)


class TriageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=MAX_TEXT_CHARS, description="The complaint as written.")
    case_ref: str | None = Field(None, max_length=64, examples=["CRM-1234"])
    channel: str | None = Field(None, max_length=32, examples=["email"])
    customer: Customer = Field(default_factory=Customer)
    amount: Money | None = None

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must contain the complaint, not only whitespace")
        return value

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

    @classmethod
    def from_result(cls, result: TriageResult, names: dict[str, str]) -> TriageResponse:
        c = result.classification
        return cls(
            triage_id=result.triage_id,
            case_ref=result.case_ref,
            model_version=c.model_version,
            created=result.created,
            departments=[
                DepartmentOut(
                    id=d.id,
                    name=d.name,
                    probability=round(d.probability, 4),
                    threshold=d.threshold,
                    evidence=list(d.terms),
                    quotes=[Quote(text=q.text, start=q.start, end=q.end) for q in d.quotes],
                )
                for d in c.departments
            ],
            probabilities=c.probabilities,
            escalation=EscalationOut(
                escalate=c.escalation.escalate,
                probability=round(c.escalation.probability, 4),
                reasons=list(c.escalation.reasons),
                evidence=list(c.escalation_evidence),
                signals=[
                    SignalOut(reason=g.reason, phrase=g.phrase, start=g.start, end=g.end)
                    for g in c.escalation.signals
                ],
            ),
            needs_review=c.needs_review,
            review_reasons=list(c.review_reasons),
            language=c.language,
            summary=result.summary,
            handoffs=[
                HandoffOut(
                    department=h.department,
                    name=names[h.department],
                    subject=h.subject,
                    body=h.body,
                    due=h.due,
                )
                for h in result.handoffs
            ],
            customer_message=MessageOut(
                subject=result.customer_message.subject,
                body=result.customer_message.body,
                reply_by=result.reply_by,
            ),
        )


class ModelInfo(BaseModel):
    version: str
    metadata: dict[str, object]
