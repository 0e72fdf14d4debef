"""Liveness and readiness."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from classifier.api.deps import HolderDep, StoreDep, not_ready_reason
from classifier.api.errors import problem

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/livez")
def livez() -> dict[str, str]:
    """The process answers."""
    return {"status": "alive"}


@router.get("/readyz", response_model=None, responses={503: {"description": "Not ready: why."}})
def readyz(request: Request, holder: HolderDep, store: StoreDep) -> dict[str, Any] | JSONResponse:
    """Ready when a verified model is loaded and the store answers; 503 with why otherwise."""
    loaded = holder.current
    if loaded is None:
        reason = not_ready_reason(request) or "no model loaded"
        return problem(503, f"not ready: {reason}", instance="/readyz")
    try:
        store.ping()
    except SQLAlchemyError as exc:
        log.error("store does not answer: %s", exc)
        return problem(503, f"not ready: the database does not answer ({type(exc).__name__})",
                       instance="/readyz")  # fmt: skip
    return {"status": "ready", "model_version": loaded.version}
