"""Signing in with a token, signing out, choosing the language, and the landing redirect."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from speedledger.central.auth import InvalidToken
from speedledger.central.entrypoints.dashboard.access import Viewer, signed_in
from speedledger.central.entrypoints.dashboard.labels import LANGUAGE_COOKIE, LANGUAGES
from speedledger.central.entrypoints.dashboard.rendering import Pages, first_page, pages
from speedledger.central.entrypoints.dashboard.session import (
    close_session,
    csrf_token,
    csrf_valid,
    open_session,
    session_principal,
)

router = APIRouter(include_in_schema=False)

PagesDep = Annotated[Pages, Depends(pages)]


def optional_viewer(request: Request) -> Viewer | None:
    principal = session_principal(request)
    return None if principal is None else Viewer(principal, csrf_token(request))


def local_path(path: str) -> str:
    """`path` if it stays on this site, else `/` (no open redirect through `next=`)."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


@router.get("/", response_class=RedirectResponse)
def home(viewer: Annotated[Viewer, Depends(signed_in)]) -> RedirectResponse:
    return RedirectResponse(first_page(viewer) or "/sign-in", status_code=303)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, pages: PagesDep) -> HTMLResponse:
    return pages.render(request, "signin.html", optional_viewer(request), error=None)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, pages: PagesDep, token: Annotated[str, Form(max_length=4096)] = "") -> Response:
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        return pages.render(request, "signin.html", None, status_code=403, error="sign-in from another site refused")
    response = RedirectResponse("/", status_code=303)
    try:
        open_session(request, response, token)
    except InvalidToken as exc:
        return pages.render(request, "signin.html", None, status_code=401, error=str(exc))
    return response


@router.post("/sign-out", response_class=RedirectResponse)
def sign_out(request: Request, csrf: Annotated[str, Form()] = "") -> RedirectResponse:
    response = RedirectResponse("/sign-in", status_code=303)
    if csrf_valid(request, csrf):
        close_session(response)
    return response


@router.get("/language/{language}", response_class=RedirectResponse)
def choose_language(language: str, back: Annotated[str, Query(alias="next", max_length=2000)] = "/") -> Response:
    """Remember the language in a cookie (not personal data, readable by no one else)."""
    response = RedirectResponse(local_path(back), status_code=303)
    if language in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 86400, path="/", samesite="strict")
    return response
