"""Infractions: a filtered, paged, sortable list; one infraction with its evidence, verification and actions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import Connection

from speedledger.central.auth import Permission
from speedledger.central.bootstrap import Central
from speedledger.central.entrypoints.api.deps import CentralDep
from speedledger.central.entrypoints.api.errors import DOMAIN_ERRORS, status_of
from speedledger.central.entrypoints.api.routes.evidence import export, notice
from speedledger.central.entrypoints.api.routes.infractions import InfractionId, read_evidence, signed_photo
from speedledger.central.entrypoints.dashboard.access import Viewer, needs, needs_form
from speedledger.central.entrypoints.dashboard.actions import ACTIONS, offered
from speedledger.central.entrypoints.dashboard.formatting import day_start_ms, next_day_start_ms
from speedledger.central.entrypoints.dashboard.rendering import Pages, pages
from speedledger.central.entrypoints.dashboard.verification import Verification, verify_signed
from speedledger.central.errors import Invalid
from speedledger.central.infractions.domain import InfractionStatus
from speedledger.central.infractions.queries import InfractionDetail, InfractionPage, get_infraction, list_infractions
from speedledger.central.ingest.queries import evidence_for_violation
from speedledger.central.radars.lookup import RadarState, load_radar
from speedledger.central.sections.lookup import load_section

router = APIRouter(include_in_schema=False)

ReadViewer = Annotated[Viewer, Depends(needs(Permission.INFRACTIONS_READ))]
StatusViewer = Annotated[Viewer, Depends(needs_form(Permission.INFRACTIONS_STATUS))]
PagesDep = Annotated[Pages, Depends(pages)]
Filter = Annotated[str, Query(max_length=64)]
PAGE_SIZE = 25
FILTERS = ("plate", "owner_id", "radar_id", "status", "from_day", "to_day")


@router.get("/infractions", response_class=HTMLResponse)
def infractions_page(
    request: Request,
    viewer: ReadViewer,
    central: CentralDep,
    pages: PagesDep,
    plate: Filter = "",
    owner_id: Filter = "",
    radar_id: Filter = "",
    status: Filter = "",
    from_day: Filter = "",
    to_day: Filter = "",
    cursor: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """Newest first, PAGE_SIZE a page; dates are days in the agency's zone, both ends included."""
    filters = {"plate": plate, "owner_id": owner_id, "radar_id": radar_id, "status": status}
    filters |= {"from_day": from_day, "to_day": to_day}
    page, error = InfractionPage(items=[], next_cursor=None), None
    try:
        from_ms = day_start_ms(from_day, pages.zone) if from_day else None
        to_ms = next_day_start_ms(to_day, pages.zone) if to_day else None
        with central.engine.connect() as conn:
            page = list_infractions(
                conn,
                plate=plate or None,
                owner_id=owner_id or None,
                radar_id=radar_id or None,
                status=InfractionStatus(status) if status else None,
                from_ms=from_ms,
                to_ms=to_ms,
                limit=PAGE_SIZE,
                cursor=cursor or None,
            )
    except (ValueError, Invalid) as exc:
        error = str(exc)
    chosen = {name: value for name, value in filters.items() if value}
    next_url = f"/infractions?{urlencode({**chosen, 'cursor': page.next_cursor})}" if page.next_cursor else None
    return pages.render(
        request,
        "infractions.html",
        viewer,
        status_code=422 if error else 200,
        page=page,
        filters=filters,
        statuses=[status.value for status in InfractionStatus],
        error=error,
        next_url=next_url,
        first_url=f"/infractions?{urlencode(chosen)}" if cursor else None,
    )


@dataclass(frozen=True)
class SignedEvidence:
    """One signed message of an infraction, where and when it was made, its photo and their checks."""

    #: "" for a spot violation; "entry" or "exit" for a section's passages (also the prefix of their ids).
    role: str
    at_ms: int
    radar_id: str
    radar: RadarState | None
    photo_url: str
    verification: Verification
    #: The message as signed, indented for reading.
    signed_message: str


def _signed_evidence(
    conn: Connection, central: Central, infraction: InfractionDetail, role: str, message: dict[str, Any]
) -> SignedEvidence:
    radar_id = str(message["radar_id"])
    radar = load_radar(central.store, radar_id)
    evidence = evidence_for_violation(conn, str(message["event_id"]), now_ms=central.clock())
    photo = f"/infractions/{quote(infraction.infraction_id)}/{'entry-' if role == 'entry' else ''}evidence.jpg"
    at_ms = message["passed_at_ms"] if role else infraction.detected_at_ms
    return SignedEvidence(
        role=role,
        at_ms=int(at_ms),
        radar_id=radar_id,
        radar=radar,
        photo_url=photo,
        verification=verify_signed(message, radar, evidence),
        signed_message=json.dumps(message, indent=2, sort_keys=True),
    )


def _infraction_page(
    request: Request,
    viewer: Viewer,
    central: Central,
    pages: Pages,
    infraction_id: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A spot infraction shows its violation; a section infraction both passages (entry, then exit) and its
    section."""
    with central.engine.connect() as conn:
        infraction = get_infraction(conn, infraction_id, central.cipher)
        if infraction is None:
            return pages.render(request, "not_found.html", viewer, status_code=404, what=infraction_id)
        entry = infraction.entry_device_message
        if entry is None:
            signed = [_signed_evidence(conn, central, infraction, "", infraction.device_message)]
        else:
            signed = [
                _signed_evidence(conn, central, infraction, "entry", entry),
                _signed_evidence(conn, central, infraction, "exit", infraction.device_message),
            ]
    section = load_section(central.store, infraction.section_id) if infraction.section_id else None
    return pages.render(
        request,
        "infraction.html",
        viewer,
        status_code=status_code,
        infraction=infraction,
        signed=signed,
        section=section,
        actions=offered(infraction.status) if viewer.may(Permission.INFRACTIONS_STATUS) else [],
        error=error,
    )


@router.get("/infractions/{infraction_id}", response_class=HTMLResponse)
def infraction_page(
    request: Request, infraction_id: InfractionId, viewer: ReadViewer, central: CentralDep, pages: PagesDep
) -> HTMLResponse:
    return _infraction_page(request, viewer, central, pages, infraction_id)


@router.get("/infractions/{infraction_id}/evidence.jpg")
def evidence_photo(infraction_id: InfractionId, viewer: ReadViewer, central: CentralDep) -> Response:
    """The evidence JPEG as `GET /api/v1/infractions/{id}/evidence` serves it."""
    return _uncached(read_evidence(infraction_id, central))


@router.get("/infractions/{infraction_id}/entry-evidence.jpg")
def entry_evidence_photo(infraction_id: InfractionId, viewer: ReadViewer, central: CentralDep) -> Response:
    """A section infraction's entry photo (`evidence.jpg` is its exit's)."""
    with central.engine.connect() as conn:
        infraction = get_infraction(conn, infraction_id, central.cipher)
    entry = infraction.entry_device_message if infraction is not None else None
    if entry is None:
        raise HTTPException(status_code=404, detail="not a section infraction")
    return _uncached(signed_photo(central, str(entry["event_id"]), str(entry["image_sha256"])))


@router.get("/infractions/{infraction_id}/export.zip")
def evidence_export(infraction_id: InfractionId, viewer: ReadViewer, central: CentralDep) -> Response:
    """The signed evidence export, as `GET /api/v1/infractions/{id}/export` builds it."""
    return _uncached(export(infraction_id, central))


@router.get("/infractions/{infraction_id}/notice.pdf")
def notice_of_infraction(infraction_id: InfractionId, viewer: ReadViewer, central: CentralDep) -> Response:
    """The notice of infraction, as `GET /api/v1/infractions/{id}/notice.pdf` renders it."""
    return _uncached(notice(infraction_id, central))


def _uncached(document: Response) -> Response:
    """Personal data stays out of the browser's cache: the next person at the browser must not find it."""
    document.headers["Cache-Control"] = "no-store"
    return document


@router.post("/infractions/{infraction_id}/{action}", response_class=HTMLResponse)
def change_status(
    request: Request,
    infraction_id: InfractionId,
    action: str,
    viewer: StatusViewer,
    central: CentralDep,
    pages: PagesDep,
    text: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Runs the action's command as the signed-in subject, then shows the infraction again."""
    if action not in ACTIONS:
        return pages.render(request, "not_found.html", viewer, status_code=404, what=action)
    try:
        central.bus.handle(ACTIONS[action].make(infraction_id, text.strip(), viewer.principal.subject))
    except DOMAIN_ERRORS as exc:
        return _infraction_page(
            request, viewer, central, pages, infraction_id, error=str(exc), status_code=status_of(exc)
        )
    return RedirectResponse(f"/infractions/{infraction_id}", status_code=303)
