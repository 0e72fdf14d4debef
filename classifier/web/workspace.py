"""`/`: paste a complaint and see the triage. htmx swaps the results in; without JavaScript
the same POST returns the whole page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse

from classifier.api.deps import ServiceDep, StoreDep, not_ready_reason
from classifier.triage import ModelNotReady
from classifier.web.access import page_access
from classifier.web.forms import TIERS, CorrectionForm, FormError, TriageForm
from classifier.web.pages import from_htmx, pages
from classifier.web.view import TriageView

router = APIRouter(include_in_schema=False, dependencies=[Depends(page_access("triage"))])


def _page(
    request: Request,
    form: TriageForm,
    *,
    view: TriageView | None = None,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    correction = None
    if view is not None:
        departments, escalate = view.chosen
        correction = CorrectionForm(departments, escalate)
    context = {"form": form, "tiers": TIERS, "view": view, "errors": errors or [],
               "correction": correction}  # fmt: skip
    if from_htmx(request):
        fragment = "_results.html" if view is not None else "_errors.html"
        return pages(request).html(fragment, status_code, **context)
    return pages(request).html("index.html", status_code, **context)


@router.get("/", response_class=HTMLResponse)
def workspace(request: Request) -> HTMLResponse:
    return _page(request, TriageForm())


@router.post("/", response_class=HTMLResponse)
def triage(
    request: Request,
    service: ServiceDep,
    store: StoreDep,
    text: Annotated[str, Form()] = "",
    case_ref: Annotated[str, Form()] = "",
    tier: Annotated[str, Form()] = "",
    previous_contacts: Annotated[str, Form()] = "0",
    amount: Annotated[str, Form()] = "",
    currency: Annotated[str, Form()] = "EUR",
) -> HTMLResponse:
    form = TriageForm(text, case_ref, tier, previous_contacts, amount, currency)
    try:
        body = form.request()
        result = service.triage(body.text, body.context())
    except FormError as exc:
        return _page(request, form, errors=exc.messages, status_code=422)
    except ModelNotReady as exc:
        reason = not_ready_reason(request) or str(exc)
        return _page(request, form, errors=[f"No model is ready: {reason}"], status_code=503)
    if not result.stored:
        # The page shows stored triages only, and this one could not be stored.
        busy = "The database is busy, so the triage could not be saved. Send it again shortly."
        return _page(request, form, errors=[busy], status_code=503)
    view = TriageView.of(store.triage(result.triage_id), service.names(), datetime.now(UTC))
    return _page(request, form, view=view)
