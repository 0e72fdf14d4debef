"""The case around a complaint: what the CRM knows beside the text."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator


def complaint_text(value: str) -> str:
    """A complaint must say something: whitespace alone is refused (a pydantic validator)."""
    if not value.strip():
        raise ValueError("must contain the complaint, not only whitespace")
    return value


class InputModel(BaseModel):
    """Data from outside. No string in it may hold the NUL character: PostgreSQL cannot
    store one (nor compare with one), and no complaint needs it."""

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain the NUL character (U+0000)")
        return value


class Money(InputModel):
    # Not infinite: 1e400 in JSON reads as inf, which no amount is.
    value: float = Field(ge=0, allow_inf_nan=False, description="Amount at stake.")
    currency: str = Field("EUR", min_length=3, max_length=3, description="ISO 4217 code.")


class CaseContext(InputModel):
    """What the CRM knows about the case beside the text; every field optional."""

    case_ref: str | None = Field(None, max_length=64)
    channel: str | None = Field(None, max_length=32)
    customer_name: str | None = Field(None, max_length=120)
    tier: str | None = Field(None, max_length=32, description="Customer tier, e.g. vip.")
    previous_contacts: int = Field(0, ge=0, le=1000)
    language: str | None = Field(None, max_length=16)
    amount: Money | None = None
