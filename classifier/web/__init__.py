"""The agents' page: for now a plain form that posts a complaint and shows the JSON result.
Works without JavaScript."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import ValidationError

from classifier.api.deps import ServiceDep
from classifier.api.schemas import Customer, TriageRequest, TriageResponse
from classifier.case import Money

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=4)
def _pages(templates_dir: Path) -> Environment:
    return Environment(
        loader=FileSystemLoader(str(templates_dir / "web")),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
    )


def _render(request: Request, **context: object) -> HTMLResponse:
    env = _pages(request.app.state.settings.templates_dir)
    defaults: dict[str, object] = {"form": {}, "result": None, "errors": []}
    return HTMLResponse(env.get_template("index.html").render(**{**defaults, **context}))


@router.get("/", response_class=HTMLResponse)
def form(request: Request) -> HTMLResponse:
    return _render(request)


@router.post("/", response_class=HTMLResponse)
def submit(
    request: Request,
    service: ServiceDep,
    text: Annotated[str, Form()] = "",
    case_ref: Annotated[str, Form()] = "",
    tier: Annotated[str, Form()] = "",
    previous_contacts: Annotated[str, Form()] = "0",
    amount: Annotated[str, Form()] = "",
    currency: Annotated[str, Form()] = "EUR",
) -> HTMLResponse:
    submitted = {
        "text": text,
        "case_ref": case_ref,
        "tier": tier,
        "previous_contacts": previous_contacts,
        "amount": amount,
        "currency": currency,
    }
    try:
        body = TriageRequest(
            text=text,
            case_ref=case_ref or None,
            customer=Customer(tier=tier or None, previous_contacts=int(previous_contacts or 0)),
            amount=Money(value=float(amount), currency=currency) if amount.strip() else None,
        )
    except (ValidationError, ValueError) as exc:
        errors = (
            [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            if isinstance(exc, ValidationError)
            else [f"previous contacts and amount must be numbers ({exc})"]
        )
        return HTMLResponse(_render(request, form=submitted, errors=errors).body, status_code=422)
    result = service.triage(body.text, body.context())
    names = {d: service.catalogue.name(d) for d in service.catalogue.ids}
    response = TriageResponse.from_result(result, names)
    pretty = json.dumps(response.model_dump(mode="json"), indent=2, ensure_ascii=False)
    return _render(request, form=submitted, result=pretty)
