"""Owners and vehicles: look one up, its vehicles or ownership history, and erasure for the role that may."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from speedledger.central.auth import Permission
from speedledger.central.entrypoints.api.deps import CentralDep
from speedledger.central.entrypoints.api.errors import DOMAIN_ERRORS, status_of
from speedledger.central.entrypoints.dashboard.access import Viewer, needs, needs_form
from speedledger.central.entrypoints.dashboard.rendering import Pages, pages
from speedledger.central.infractions.queries import list_infractions
from speedledger.central.registration.commands import EraseOwner
from speedledger.central.registration.queries import get_owner, get_vehicle

router = APIRouter(include_in_schema=False)

OwnersViewer = Annotated[Viewer, Depends(needs(Permission.OWNERS_READ))]
VehiclesViewer = Annotated[Viewer, Depends(needs(Permission.VEHICLES_READ))]
EraseViewer = Annotated[Viewer, Depends(needs_form(Permission.OWNERS_WRITE))]
PagesDep = Annotated[Pages, Depends(pages)]
OwnerId = Annotated[str, Path(min_length=1, max_length=64)]
#: An owner's latest infractions shown on their page.
OWNER_INFRACTIONS = 25


@router.get("/registry", response_class=HTMLResponse)
def registry_page(
    request: Request,
    viewer: OwnersViewer,
    central: CentralDep,
    pages: PagesDep,
    q: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """Find an owner by id or a vehicle by plate (names are encrypted: not searchable)."""
    query = q.strip()
    if query:
        with central.engine.connect() as conn:
            if get_owner(conn, query, central.cipher) is not None:
                return RedirectResponse(f"/registry/owners/{quote(query, safe='')}", status_code=303)
            vehicle = get_vehicle(conn, query)
        if vehicle is not None:
            return RedirectResponse(f"/registry/vehicles/{vehicle.plate}", status_code=303)
    return pages.render(request, "registry.html", viewer, status_code=404 if query else 200, q=query)


def _owner_page(
    request: Request,
    viewer: Viewer,
    central: CentralDep,
    pages: Pages,
    owner_id: str,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with central.engine.connect() as conn:
        owner = get_owner(conn, owner_id, central.cipher)
        if owner is None:
            return pages.render(request, "not_found.html", viewer, status_code=404, what=owner_id)
        infractions = (
            list_infractions(conn, owner_id=owner_id, limit=OWNER_INFRACTIONS).items
            if viewer.may(Permission.INFRACTIONS_READ)
            else []
        )
    return pages.render(
        request, "owner.html", viewer, status_code=status_code, owner=owner, infractions=infractions, error=error
    )


@router.get("/registry/owners/{owner_id}", response_class=HTMLResponse)
def owner_page(
    request: Request, owner_id: OwnerId, viewer: OwnersViewer, central: CentralDep, pages: PagesDep
) -> HTMLResponse:
    return _owner_page(request, viewer, central, pages, owner_id)


@router.post("/registry/owners/{owner_id}/erase", response_class=HTMLResponse)
def erase_owner(
    request: Request, owner_id: OwnerId, viewer: EraseViewer, central: CentralDep, pages: PagesDep
) -> Response:
    """Crypto-shreds the owner's personal data (as `DELETE /api/v1/owners/{id}`)."""
    try:
        central.bus.handle(EraseOwner(owner_id=owner_id, actor=viewer.principal.subject))
    except DOMAIN_ERRORS as exc:
        return _owner_page(request, viewer, central, pages, owner_id, error=str(exc), status_code=status_of(exc))
    return RedirectResponse(f"/registry/owners/{owner_id}", status_code=303)


@router.get("/registry/vehicles/{plate}", response_class=HTMLResponse)
def vehicle_page(
    request: Request,
    plate: Annotated[str, Path(min_length=1, max_length=32)],
    viewer: VehiclesViewer,
    central: CentralDep,
    pages: PagesDep,
) -> HTMLResponse:
    with central.engine.connect() as conn:
        vehicle = get_vehicle(conn, plate)
    if vehicle is None:
        return pages.render(request, "not_found.html", viewer, status_code=404, what=plate)
    return pages.render(request, "vehicle.html", viewer, vehicle=vehicle)
