"""The case around a complaint: what the CRM knows beside the text."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Money(BaseModel):
    value: float = Field(ge=0, description="Amount at stake.")
    currency: str = Field("EUR", min_length=3, max_length=3, description="ISO 4217 code.")


class CaseContext(BaseModel):
    """What the CRM knows about the case beside the text; every field optional."""

    case_ref: str | None = Field(None, max_length=64)
    channel: str | None = Field(None, max_length=32)
    customer_name: str | None = Field(None, max_length=120)
    tier: str | None = Field(None, max_length=32, description="Customer tier, e.g. vip.")
    previous_contacts: int = Field(0, ge=0, le=1000)
    language: str | None = Field(None, max_length=16)
    amount: Money | None = None
