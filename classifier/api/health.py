"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from classifier.api.deps import HolderDep
from classifier.api.errors import problem

router = APIRouter(tags=["health"])


@router.get("/livez")
def livez() -> dict[str, str]:
    """The process answers."""
    return {"status": "alive"}


@router.get("/readyz", response_model=None)
def readyz(request: Request, holder: HolderDep) -> dict[str, Any] | JSONResponse:
    """Ready when a verified model is loaded; 503 with the reason otherwise."""
    loaded = holder.current
    if loaded is None:
        reason = getattr(request.app.state, "load_error", None) or "no model loaded"
        return problem(503, f"not ready: {reason}", instance="/readyz")
    return {"status": "ready", "model_version": loaded.version}
