"""`/triages`: recent triages, one triage's page, and the agents' corrections of it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from classifier.api.deps import ServiceDep, StoreDep
from classifier.store import IdempotencyConflict, NotFound
from classifier.web.access import page_access
from classifier.web.forms import CorrectionForm, FormError, TriageFilters, new_key
from classifier.web.pages import from_htmx, pages
from classifier.web.view import Listing, TriageView

router = APIRouter(include_in_schema=False, dependencies=[Depends(page_access("triage"))])
PAGE_SIZE = 50


def not_found(request: Request, what: str) -> HTMLResponse:
    return pages(request).html("error.html", 404, title="Not found", message=what)


def _triage_page(
    request: Request, view: TriageView, correction: CorrectionForm, status_code: int = 200
) -> HTMLResponse:
    if from_htmx(request):
        return pages(request).html(
            "_corrections.html", status_code, view=view, correction=correction
        )
    return pages(request).html("triage.html", status_code, view=view, correction=correction)


@router.get("/triages", response_class=HTMLResponse)
def triage_list(
    request: Request,
    service: ServiceDep,
    store: StoreDep,
    department: str = "",
    escalated: str = "",
    needs_review: str = "",
    unacknowledged: str = "",
    offset: str = "0",
) -> HTMLResponse:
    filters = TriageFilters(department, escalated, needs_review, unacknowledged)
    start = max(0, int(offset)) if offset.isdigit() else 0
    # One more than a page tells whether an older page exists.
    found = store.triages(**filters.query(), limit=PAGE_SIZE + 1, offset=start)
    now, names = datetime.now(UTC), service.names()
    return pages(request).html(
        "triages.html",
        filters=filters,
        names=names,
        listings=[Listing.of(t, names, now) for t in found[:PAGE_SIZE]],
        offset=start,
        page_size=PAGE_SIZE,
        older=len(found) > PAGE_SIZE,
    )


@router.get("/triages/{triage_id}", response_class=HTMLResponse)
def triage_page(
    request: Request, triage_id: str, service: ServiceDep, store: StoreDep, saved: str = ""
) -> HTMLResponse:
    try:
        stored = store.triage(triage_id)
    except NotFound:
        return not_found(request, f"There is no triage with id {triage_id}.")
    view = TriageView.of(stored, service.names(), datetime.now(UTC))
    departments, escalate = view.chosen
    # After a save without JavaScript the browser is redirected here with ?saved=<id>.
    just_saved = next((f for f in stored.feedback if str(f.id) == saved), None)
    return _triage_page(request, view, CorrectionForm(departments, escalate, saved=just_saved))


@router.post(
    "/triages/{triage_id}/feedback",
    response_class=HTMLResponse,
    dependencies=[Depends(page_access("feedback"))],
)
def save_correction(
    request: Request,
    triage_id: str,
    service: ServiceDep,
    store: StoreDep,
    departments: Annotated[list[str] | None, Form()] = None,
    escalate: Annotated[str, Form()] = "",
    author: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
    key: Annotated[str, Form()] = "",
) -> Response:
    form = CorrectionForm.submitted(departments or [], escalate, author, comment, key)
    now, names = datetime.now(UTC), service.names()
    try:
        view = TriageView.of(store.triage(triage_id), names, now)
    except NotFound:
        return not_found(request, f"There is no triage with id {triage_id}.")
    try:
        feedback, created = store.add_feedback(
            triage_id, service.storable(form.correction(triage_id)), now=now, key=form.key
        )
    except FormError as exc:
        return _triage_page(request, view, dataclasses.replace(form, errors=exc.messages), 422)
    except IdempotencyConflict:
        # Only a replayed form with changed choices gets here; a fresh key lets it be saved.
        retry = dataclasses.replace(
            form,
            key=new_key(),
            errors=["This form was already saved with other choices. Check them and save again."],
        )
        return _triage_page(request, view, retry, 409)
    if not from_htmx(request):
        return RedirectResponse(
            f"/triages/{triage_id}?saved={feedback.id}#corrections", status_code=303
        )
    view = TriageView.of(store.triage(triage_id), names, now)
    saved = CorrectionForm(
        frozenset(feedback.departments),
        feedback.escalate,
        author=form.author,
        saved=feedback,
        replayed=not created,
    )
    return _triage_page(request, view, saved)
