"""Jinja2 rendering of the dashboard's pages, with its filters, labels, navigation and security headers."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from speedledger.central.agency_time import local_time
from speedledger.central.auth import Permission
from speedledger.central.entrypoints.dashboard.access import Viewer
from speedledger.central.entrypoints.dashboard.formatting import kmh
from speedledger.central.entrypoints.dashboard.labels import LANGUAGE_COOKIE, LANGUAGES, choose_language, labels

TEMPLATES = Path(__file__).parent / "templates"

#: Only the dashboard's own files: no inline script or style, no other origin (an injected tag does nothing).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make the browser send `Origin: null`
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    permission: Permission


NAVIGATION = (
    NavItem("/radars", "radars", Permission.RADARS_READ),
    NavItem("/infractions", "infractions", Permission.INFRACTIONS_READ),
    NavItem("/events", "events", Permission.EVENTS_READ),
    NavItem("/quarantine", "quarantine", Permission.QUARANTINE_READ),
    NavItem("/registry", "registry", Permission.OWNERS_READ),
)


def first_page(viewer: Viewer) -> str | None:
    """Where a viewer lands after signing in: the first page their role may see."""
    return next((item.path for item in NAVIGATION if viewer.may(item.permission)), None)


class Pages:
    """The dashboard's templates for one app, showing times in `zone`."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.templates = Jinja2Templates(directory=TEMPLATES)
        self.templates.env.filters["when"] = partial(local_time, zone=zone)
        self.templates.env.filters["kmh"] = kmh
        self.templates.env.globals["Permission"] = Permission

    def render(
        self, request: Request, template: str, viewer: Viewer | None, *, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        language = choose_language(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language"))
        nav = [item for item in NAVIGATION if viewer is not None and viewer.may(item.permission)]
        response = self.templates.TemplateResponse(
            request,
            template,
            {
                "t": labels(language),
                "language": language,
                "languages": LANGUAGES,
                "viewer": viewer,
                "nav": nav,
                "zone": self.zone.key,
                "here": request.url.path,
                **context,
            },
            status_code=status_code,
        )
        response.headers.update(SECURITY_HEADERS)
        return response


def page_or_section(request: Request, name: str) -> str:
    """`NAME.html` for the page, `NAME_live.html` for its live section (the same URL with `/live` appended),
    which the page's script fetches again on events or on a timer."""
    return f"{name}_live.html" if request.url.path.endswith("/live") else f"{name}.html"


def pages(request: Request) -> Pages:
    """The app's Pages (a dependency)."""
    found: Pages = request.app.state.dashboard_pages
    return found
