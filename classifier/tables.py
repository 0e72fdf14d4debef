"""The database tables (SQLAlchemy 2 ORM), and their rows as the frozen data callers get;
only `store`, `retention` and the migrations use them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from classifier.casework import Feedback, Handoff, StoredTriage


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which stores no zone) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the store keeps aware times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class TriageRow(Base):
    __tablename__ = "triages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_ref: Mapped[str] = mapped_column(String(64), index=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    model_version: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The triage as the API returned it: departments, evidence, escalation, drafts.
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    escalate: Mapped[bool] = mapped_column(Boolean, index=True)
    needs_review: Mapped[bool] = mapped_column(Boolean, index=True)
    handoffs: Mapped[list[HandoffRow]] = relationship(
        back_populates="triage", order_by="HandoffRow.position", cascade="all, delete-orphan"
    )
    feedback: Mapped[list[FeedbackRow]] = relationship(
        back_populates="triage", order_by="FeedbackRow.id", cascade="all, delete-orphan"
    )


class HandoffRow(Base):
    __tablename__ = "handoffs"
    __table_args__ = (UniqueConstraint("triage_id", "department"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    triage_id: Mapped[str] = mapped_column(ForeignKey("triages.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    department: Mapped[str] = mapped_column(String(32), index=True)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    due: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default="drafted")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
    acknowledgement_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    triage: Mapped[TriageRow] = relationship(back_populates="handoffs")


class FeedbackRow(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    triage_id: Mapped[str] = mapped_column(ForeignKey("triages.id", ondelete="CASCADE"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    body_sha256: Mapped[str] = mapped_column(String(64))
    departments: Mapped[list[str]] = mapped_column(JSON)
    escalate: Mapped[bool] = mapped_column(Boolean)
    # Edited drafts, when the agent changed them: {department: {subject, body}} and {subject, body}
    handoffs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    customer_message: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    author: Mapped[str] = mapped_column(String(120))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    triage: Mapped[TriageRow] = relationship(back_populates="feedback")


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    # sha256 of the secret part; the secret itself is shown once and never stored
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


def stored_handoff(row: HandoffRow, case_ref: str) -> Handoff:
    """A handoff row as frozen data, outliving its session."""
    return Handoff(
        row.id, row.triage_id, case_ref, row.department, row.subject, row.body, row.due,
        row.status, row.sent_at, row.sent_by, row.acknowledged_at, row.acknowledged_by,
        row.acknowledgement_note,
    )  # fmt: skip


def stored_feedback(row: FeedbackRow) -> Feedback:
    return Feedback(
        row.id, row.triage_id, tuple(row.departments), row.escalate, row.author, row.created,
        row.handoffs, row.customer_message, row.comment, row.idempotency_key,
    )  # fmt: skip


def stored_triage(row: TriageRow) -> StoredTriage:
    """A triage row, its handoffs and its feedback as frozen data."""
    return StoredTriage(
        row.id, row.case_ref, row.created, row.model_version, row.text, row.context, row.result,
        row.escalate, row.needs_review,
        tuple(stored_handoff(h, row.case_ref) for h in row.handoffs),
        tuple(stored_feedback(f) for f in row.feedback),
    )  # fmt: skip
