"""An infraction's evidence as documents: the signed export zip and the notice of infraction (PDF)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from speedledger.central.auth import Permission
from speedledger.central.entrypoints.api.deps import CentralDep
from speedledger.central.entrypoints.api.routes.infractions import InfractionId
from speedledger.central.entrypoints.api.schemas import ErrorOut
from speedledger.central.entrypoints.api.security import GuardedRoute, requires
from speedledger.central.evidence.export import export_infraction
from speedledger.central.evidence.notice import gather_notice, render_notice

router = APIRouter(prefix="/api/v1/infractions", tags=["infractions"], route_class=GuardedRoute)

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such infraction."},
    409: {
        "model": ErrorOut,
        "description": "An evidence image has not arrived yet, or a radar's key or the section is no longer known.",
    },
}


@router.get(
    "/{infraction_id}/export",
    response_class=Response,
    responses={
        200: {
            "content": {"application/zip": {}},
            "description": "Zip of the signed violation, evidence JPEG, radar key, metrology record, events, "
            "fine schedule and a manifest signed by central (docs/evidence.md); for a section infraction both "
            "signed passages, their JPEGs and radar keys, and the section instead of the violation.",
        },
        **_ERRORS,
    },
    **requires(Permission.INFRACTIONS_READ),
)
def export(infraction_id: InfractionId, central: CentralDep) -> Response:
    """Everything a court needs to check the infraction offline with `speedledger verify`."""
    return Response(
        export_infraction(central, infraction_id),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="infraction-{infraction_id}.zip"'},
    )


@router.get(
    "/{infraction_id}/notice.pdf",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The notice sent to the owner at detection time."},
        404: {"model": ErrorOut, "description": "No such infraction."},
        409: {"model": ErrorOut, "description": "The infraction is unidentified: there is no owner to notify."},
    },
    **requires(Permission.INFRACTIONS_READ),
)
def notice(infraction_id: InfractionId, central: CentralDep) -> Response:
    """Photo, time and place, radar and its verification, speeds, fine amounts and deadlines, points, reference."""
    with central.engine.connect() as conn:
        document = render_notice(gather_notice(central, conn, infraction_id))
    return Response(
        document,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="notice-{infraction_id}.pdf"'},
    )
