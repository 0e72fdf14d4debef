"""Signing in to the workspace with an API key, when the server asks for keys.

The browser keeps the key in an HttpOnly, SameSite=Strict cookie that only the pages read;
the JSON API never accepts it, so a cookie can not be replayed against `/v1` from another
site.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from classifier.api.auth import Caller, Forbidden, Gate, Scope, Unauthorized
from classifier.web.pages import from_htmx, pages

COOKIE = "ct_key"
router = APIRouter(include_in_schema=False)


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageForbidden(Exception):
    """A signed-in key without the scope this page needs."""


def page_access(scope: Scope) -> Callable[[Request], Caller]:
    """A dependency for the pages: the signed-in key (or nobody, on loopback) with `scope`."""

    def check(request: Request) -> Caller:
        gate: Gate = request.app.state.gate
        try:
            return gate.admit(request, scope, request.cookies.get(COOKIE))
        except Unauthorized as exc:
            raise SignInRequired(request.url.path) from exc
        except Forbidden as exc:
            raise PageForbidden(str(exc)) from exc

    return check


def _safe_next(path: str) -> str:
    # Only paths on this site: an open redirect would let a link send agents elsewhere.
    return path if path.startswith("/") and not path.startswith("//") else "/"


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, next: str = "/") -> HTMLResponse:
    return pages(request).html("sign_in.html", next=_safe_next(next), error=None)


@router.post("/sign-in", response_class=HTMLResponse, response_model=None)
def sign_in(
    request: Request, key: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/"
) -> Response:
    gate: Gate = request.app.state.gate
    found = gate.keys.verify(key.strip()) if key.strip() else None
    if found is None or "triage" not in found.scopes:
        error = ("that key is not valid (unknown, mistyped or revoked)" if found is None
                 else "that key lacks the triage scope the workspace needs")  # fmt: skip
        return pages(request).html("sign_in.html", 401, next=_safe_next(next), error=error)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(COOKIE, key.strip(), httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")  # fmt: skip
    return response


@router.post("/sign-out", response_model=None)
def sign_out() -> Response:
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(COOKIE)
    return response


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    target = f"/sign-in?next={quote(_safe_next(exc.next_path))}"
    if from_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _forbidden(request: Request, exc: Exception) -> Response:
    return pages(request).html("error.html", 403, title="Not allowed", message=str(exc))


def install(app: FastAPI) -> None:
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(PageForbidden, _forbidden)
