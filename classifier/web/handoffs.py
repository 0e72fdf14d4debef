"""A handoff marked as sent by the agent, and acknowledged for the department."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from classifier.api.deps import ServiceDep, StoreDep
from classifier.api.schemas import AckIn, SentIn
from classifier.store import Handoff, NotFound, Store
from classifier.web.access import page_access
from classifier.web.forms import DEFAULT_AUTHOR, messages_of
from classifier.web.pages import from_htmx, pages
from classifier.web.triages import not_found
from classifier.web.view import HandoffView

router = APIRouter(include_in_schema=False, dependencies=[Depends(page_access("triage"))])


def _state(
    request: Request,
    handoff: Handoff,
    names: dict[str, str],
    *,
    message: str = "",
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    if not from_htmx(request) and not errors:
        return RedirectResponse(
            f"/triages/{handoff.triage_id}#handoff-{handoff.id}", status_code=303
        )
    now = datetime.now(UTC)
    view = HandoffView(handoff, names.get(handoff.department, handoff.department),
                       handoff.overdue(now))  # fmt: skip
    if not from_htmx(request):
        return pages(request).html(
            "error.html", status_code, title="Please correct", message="", errors=errors or [],
            back=f"/triages/{handoff.triage_id}#handoff-{handoff.id}",
        )  # fmt: skip
    return pages(request).html(
        "_handoff_state.html", status_code, h=view, state_message=message,
        state_errors=errors or [], oob=True,
    )  # fmt: skip


def _refused(
    request: Request, store: Store, names: dict[str, str], handoff_id: str, exc: ValidationError
) -> Response:
    """The form was not valid: show why beside the handoff as it stands (read only now)."""
    try:
        handoff = store.handoff(handoff_id)
    except NotFound:
        return not_found(request, f"There is no handoff with id {handoff_id}.")
    return _state(request, handoff, names, errors=messages_of(exc), status_code=422)


@router.post(
    "/handoffs/{handoff_id}/sent",
    response_class=HTMLResponse,
    dependencies=[Depends(page_access("feedback"))],
)
def mark_sent(
    request: Request,
    handoff_id: str,
    service: ServiceDep,
    store: StoreDep,
    subject: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
    author: Annotated[str, Form()] = "",
) -> Response:
    try:
        sent = SentIn(
            by=author.strip() or DEFAULT_AUTHOR,
            subject=subject if subject.strip() else None,
            body=body if body.strip() else None,
        )
    except ValidationError as exc:
        return _refused(request, store, service.names(), handoff_id, exc)
    try:
        handoff = store.mark_sent(
            handoff_id, by=sent.by, now=datetime.now(UTC),
            subject=service.storable_text(sent.subject), body=service.storable_text(sent.body),
        )  # fmt: skip
    except NotFound:
        return not_found(request, f"There is no handoff with id {handoff_id}.")
    return _state(request, handoff, service.names(), message="Marked as sent.")


@router.post(
    "/handoffs/{handoff_id}/ack",
    response_class=HTMLResponse,
    dependencies=[Depends(page_access("feedback"))],
)
def acknowledge(
    request: Request,
    handoff_id: str,
    service: ServiceDep,
    store: StoreDep,
    by: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    try:
        ack = AckIn(by=by.strip(), note=note.strip() or None)
    except ValidationError as exc:
        return _refused(request, store, service.names(), handoff_id, exc)
    try:
        handoff, created = store.acknowledge(handoff_id, by=ack.by, now=datetime.now(UTC),
                                             note=service.storable_text(ack.note))  # fmt: skip
    except NotFound:
        return not_found(request, f"There is no handoff with id {handoff_id}.")
    message = "Acknowledgement recorded." if created else "It was acknowledged before."
    return _state(request, handoff, service.names(), message=message)
