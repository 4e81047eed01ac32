"""Infractions: filtered and paged lists, one in full (with the radar's signed message), evidence, status changes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, HTTPException, Path, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from speedledger.central.auth import Permission
from speedledger.central.bootstrap import Central
from speedledger.central.entrypoints.api.deps import CentralDep, PrincipalDep
from speedledger.central.entrypoints.api.schemas import (
    PLATE_PATTERN,
    RADAR_ID_PATTERN,
    STRICT_BODY,
    TEXT_PATTERN,
    Millis,
)
from speedledger.central.entrypoints.api.security import GuardedRoute, requires
from speedledger.central.errors import NotFound
from speedledger.central.infractions.commands import (
    CancelInfraction,
    ContestInfraction,
    PayInfraction,
    UpholdInfraction,
)
from speedledger.central.infractions.csv_export import COLUMNS, csv_chunks
from speedledger.central.infractions.domain import InfractionKind, InfractionStatus
from speedledger.central.infractions.queries import (
    DEFAULT_PAGE,
    MAX_PAGE,
    InfractionDetail,
    InfractionPage,
    get_infraction,
    list_infractions,
)
from speedledger.central.ingest.queries import evidence_for_violation

router = APIRouter(prefix="/api/v1/infractions", tags=["infractions"], route_class=GuardedRoute)

InfractionId = Annotated[str, Path(min_length=1, max_length=64, pattern=TEXT_PATTERN)]
#: Seconds a client should wait before asking again for evidence that is still on its way.
EVIDENCE_RETRY_S = 10
NO_IMAGE = "the radar sent no image for this infraction"


class StatusChangeIn(BaseModel):
    model_config = STRICT_BODY

    reason: Annotated[str, Field(max_length=500, pattern=TEXT_PATTERN)] = ""


class PaymentIn(BaseModel):
    model_config = STRICT_BODY

    reference: Annotated[
        str, Field(max_length=200, pattern=TEXT_PATTERN, description="Payment reference, e.g. the transaction id.")
    ] = ""


def _infraction(central: CentralDep, infraction_id: str) -> InfractionDetail:
    with central.engine.connect() as conn:
        infraction = get_infraction(conn, infraction_id, central.cipher)
    if infraction is None:
        raise NotFound(f"infraction {infraction_id!r} not found")
    return infraction


CSV = "text/csv"


@router.get(
    "",
    response_model=InfractionPage,
    responses={
        200: {
            "content": {
                CSV: {"schema": {"type": "string"}, "example": ",".join(COLUMNS)},
            },
            "description": "A page of infractions; with `Accept: text/csv`, every infraction matching the "
            "filters as CSV (header line first, `limit` and `cursor` do not apply), streamed.",
        }
    },
    **requires(Permission.INFRACTIONS_READ),
)
def read_infractions(
    central: CentralDep,
    plate: Annotated[
        str | None,
        Query(
            max_length=32,
            pattern=PLATE_PATTERN,
            description="Normalised before matching; needs a letter or digit.",
        ),
    ] = None,
    owner_id: Annotated[str | None, Query(max_length=64, pattern=TEXT_PATTERN)] = None,
    radar_id: Annotated[str | None, Query(pattern=RADAR_ID_PATTERN)] = None,
    status: InfractionStatus | None = None,
    kind: Annotated[InfractionKind | None, Query(description="`spot` or `section` (CONTRACT §6).")] = None,
    from_ms: Annotated[Millis | None, Query(description="Detected at or after (inclusive).")] = None,
    to_ms: Annotated[Millis | None, Query(description="Detected before (exclusive).")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    accept: Annotated[str, Header(include_in_schema=False)] = "",
) -> InfractionPage | StreamingResponse:
    """Newest first (by detected_at_ms, then infraction_id); pass `next_cursor` back as `cursor` for the next page.

    With `Accept: text/csv` the same filtered rows come as one CSV download, streamed in bounded memory.
    """
    if CSV in accept:
        filters = dict(plate=plate, owner_id=owner_id, radar_id=radar_id, status=status, from_ms=from_ms, to_ms=to_ms)
        return StreamingResponse(
            csv_chunks(central.engine, **filters),
            media_type=f"{CSV}; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="infractions.csv"'},
        )
    with central.engine.connect() as conn:
        return list_infractions(
            conn,
            plate=plate,
            owner_id=owner_id,
            radar_id=radar_id,
            status=status,
            kind=kind,
            from_ms=from_ms,
            to_ms=to_ms,
            limit=limit,
            cursor=cursor,
        )


@router.get("/{infraction_id}", response_model=InfractionDetail, **requires(Permission.INFRACTIONS_READ))
def read_infraction(infraction_id: InfractionId, central: CentralDep) -> InfractionDetail:
    """In full: status history and the radar's signed message exactly as received (verifiable offline)."""
    return _infraction(central, infraction_id)


@router.get(
    "/{infraction_id}/evidence",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "The evidence JPEG; its SHA-256 is in the signed message."},
        404: {"description": "No such infraction, the radar sent no image, or it has not arrived (Retry-After)."},
    },
    **requires(Permission.INFRACTIONS_READ),
)
def read_evidence(infraction_id: InfractionId, central: CentralDep) -> Response:
    infraction = _infraction(central, infraction_id)
    return signed_photo(central, infraction.event_id, infraction.image_sha256)


def signed_photo(central: Central, event_id: str, image_sha256: str) -> Response:
    """The JPEG whose `image_sha256` the message `event_id` signed, or the 404 that says why not."""
    if not image_sha256:
        raise HTTPException(status_code=404, detail=NO_IMAGE)
    with central.engine.connect() as conn:
        evidence = evidence_for_violation(conn, event_id, now_ms=central.clock())
    if evidence.content is not None:
        return Response(
            evidence.content,
            media_type="image/jpeg",
            headers={"ETag": f'"{evidence.image_sha256}"', "Cache-Control": "private, max-age=86400, immutable"},
        )
    if evidence.status == "pending":
        raise HTTPException(
            status_code=404,
            detail="the evidence image has not arrived yet",
            headers={"Retry-After": str(EVIDENCE_RETRY_S)},
        )
    detail = {"none": NO_IMAGE, "missing": "the evidence image never arrived"}.get(
        evidence.status, "no evidence recorded for this infraction"
    )
    raise HTTPException(status_code=404, detail=detail)


StatusBody = Annotated[StatusChangeIn | None, Body()]


@router.post("/{infraction_id}/pay", response_model=InfractionDetail, **requires(Permission.INFRACTIONS_STATUS))
def pay(
    infraction_id: InfractionId,
    central: CentralDep,
    principal: PrincipalDep,
    body: Annotated[PaymentIn | None, Body()] = None,
) -> InfractionDetail:
    """issued -> paid (final)."""
    reference = body.reference if body else ""
    central.bus.handle(PayInfraction(infraction_id=infraction_id, reference=reference, actor=principal.subject))
    return _infraction(central, infraction_id)


def _add_transition(
    action: str, command: type[ContestInfraction | CancelInfraction | UpholdInfraction], doc: str
) -> None:
    def change_status(
        infraction_id: InfractionId, central: CentralDep, principal: PrincipalDep, body: StatusBody = None
    ) -> InfractionDetail:
        reason = body.reason if body else ""
        central.bus.handle(command(infraction_id=infraction_id, reason=reason, actor=principal.subject))
        return _infraction(central, infraction_id)

    change_status.__name__ = f"{action}_infraction"
    change_status.__doc__ = doc
    router.add_api_route(
        f"/{{infraction_id}}/{action}",
        change_status,
        methods=["POST"],
        response_model=InfractionDetail,
        **requires(Permission.INFRACTIONS_STATUS),
    )


_add_transition("contest", ContestInfraction, "issued -> contested.")
_add_transition("cancel", CancelInfraction, "issued | contested | unidentified -> cancelled (final).")
_add_transition(
    "uphold", UpholdInfraction, "contested -> issued: the contest is rejected (an addition to CONTRACT §5)."
)
