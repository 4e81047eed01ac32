"""The radar fleet: positions, online/offline, last seen, limit and keys, refreshed live."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from speedledger.central.auth import Permission
from speedledger.central.bootstrap import Central
from speedledger.central.entrypoints.api.deps import CentralDep
from speedledger.central.entrypoints.api.routes.radars import with_liveness
from speedledger.central.entrypoints.dashboard.access import Viewer, needs
from speedledger.central.entrypoints.dashboard.radarmap import HEIGHT, WIDTH, map_points
from speedledger.central.entrypoints.dashboard.rendering import Pages, page_or_section, pages
from speedledger.central.ingest.queries import list_liveness
from speedledger.central.radars.queries import RadarView, list_radars

router = APIRouter(include_in_schema=False)

RadarsViewer = Annotated[Viewer, Depends(needs(Permission.RADARS_READ))]
PagesDep = Annotated[Pages, Depends(pages)]


def fleet(central: Central) -> list[RadarView]:
    """Every radar with its liveness, as `GET /api/v1/radars` gives them."""
    with central.engine.connect() as conn:
        liveness = {row["node_id"]: row for row in list_liveness(conn, kind="radar")}
        return [with_liveness(radar, liveness.get(radar.radar_id)) for radar in list_radars(conn)]


def _context(central: Central) -> dict[str, Any]:
    radars = fleet(central)
    return {"radars": radars, "points": map_points(radars), "map_width": WIDTH, "map_height": HEIGHT}


@router.get("/radars", response_class=HTMLResponse)
@router.get("/radars/live", response_class=HTMLResponse)
def radars_page(request: Request, viewer: RadarsViewer, central: CentralDep, pages: PagesDep) -> HTMLResponse:
    template = page_or_section(request, "radars")
    return pages.render(request, template, viewer, head=central.store.last_position(), **_context(central))
