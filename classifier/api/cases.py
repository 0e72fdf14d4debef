"""DELETE /v1/cases/{case_ref}: erase everything stored about one case (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from starlette.convertors import PathConvertor, register_url_convertor

from classifier.api.auth import require
from classifier.api.deps import StoreDep
from classifier.api.schemas import ErasureOut
from classifier.retention import erase_case

router = APIRouter(prefix="/v1", tags=["cases"])


class CaseRefConvertor(PathConvertor):
    """Any characters: a case reference may hold a slash (CRM/2026/17, sent as is or as %2F;
    both arrive decoded) and even a line break, which Starlette's `path` does not match."""

    regex = r"[\s\S]+"


register_url_convertor("case_ref", CaseRefConvertor())

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


@router.delete(
    "/cases/{case_ref:case_ref}",
    response_model=ErasureOut,
    dependencies=[Depends(require("admin"))],
    responses={422: _PROBLEM},
)
def erase(
    case_ref: Annotated[str, Path(min_length=1, max_length=64)],
    store: StoreDep,
    dry_run: Annotated[bool, Query(description="Only report what would be removed.")] = False,
) -> ErasureOut:
    """Remove every triage stored under the case reference, with its handoffs and feedback
    (corrections and edited drafts), for a data-protection request, and report what was
    removed. Idempotent: a case with nothing stored (or already erased) answers 200 with
    zero counts, so a retried request is safe."""
    removed = erase_case(store, case_ref, dry_run=dry_run)
    return ErasureOut(
        case_ref=case_ref, dry_run=dry_run, triages=removed.triages, handoffs=removed.handoffs,
        feedback=removed.feedback, triage_ids=list(removed.triage_ids),
    )  # fmt: skip
