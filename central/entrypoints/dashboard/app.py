"""Mounts the dashboard on the API's app: its pages at `/`, its static files at `/static`."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from speedledger.central.bootstrap import Central
from speedledger.central.entrypoints.dashboard import events, infractions, quarantine, radars, registry, signin
from speedledger.central.entrypoints.dashboard.access import Refused, SignInRequired
from speedledger.central.entrypoints.dashboard.rendering import Pages, pages

STATIC = Path(__file__).parent / "static"
ROUTERS = (signin.router, radars.router, infractions.router, events.router, quarantine.router, registry.router)


def install_dashboard(app: FastAPI, central: Central) -> None:
    """Add the dashboard to `app` (built by create_app for `central`); it is not part of the OpenAPI document."""
    app.state.dashboard_pages = Pages(ZoneInfo(central.settings.timezone))
    app.mount("/static", StaticFiles(directory=STATIC), name="dashboard-static")
    for router in ROUTERS:
        app.include_router(router)

    async def sign_in_first(request: Request, _exc: Exception) -> Response:
        return RedirectResponse("/sign-in", status_code=303)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        viewer = signin.optional_viewer(request)
        return pages(request).render(request, "refused.html", viewer, status_code=403, detail=exc.detail)

    app.add_exception_handler(SignInRequired, sign_in_first)
    app.add_exception_handler(Refused, refused)
