"""The smallest comparable service: a FastAPI app that validates a triage-shaped body and
returns a small JSON. Benchmarks serve it the same way as the real app, as a baseline."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel, Field


class Complaint(BaseModel):
    text: str = Field(min_length=1, max_length=20_000)
    case_ref: str | None = None


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    # A coroutine, as the triage route is: FastAPI runs a plain function in its thread pool,
    # which would make the baseline slower than it need be.
    @app.post("/v1/triage")
    async def triage(complaint: Complaint) -> dict[str, object]:
        return {"case_ref": complaint.case_ref, "characters": len(complaint.text)}

    return app
