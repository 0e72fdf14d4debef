"""The agents' workspace: paste a complaint, check and correct the triage, send the handoffs
and the customer update, and follow which departments have confirmed.

Server-rendered HTML; htmx (vendored in `static/`, nothing from other hosts) swaps fragments
in, and every form also works as a plain POST without JavaScript.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

from classifier.web import access, handoffs, triages, workspace

STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)
router.include_router(access.router)
router.include_router(workspace.router)
router.include_router(triages.router)
router.include_router(handoffs.router)
router.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

__all__ = ["STATIC_DIR", "router"]
