"""Radars: registration, settings, signing keys (rotate, revoke), metrology certificates and liveness."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from speedledger.central.auth import Permission
from speedledger.central.entrypoints.api.deps import CentralDep, PrincipalDep
from speedledger.central.entrypoints.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor, paginate
from speedledger.central.entrypoints.api.schemas import (
    NAME_PATTERN,
    PUBLIC_KEY_PATTERN,
    RADAR_ID_PATTERN,
    STRICT_BODY,
    TEXT_PATTERN,
    ErrorOut,
    Millis,
    WholeNumber,
)
from speedledger.central.entrypoints.api.security import GuardedRoute, requires
from speedledger.central.errors import NotFound
from speedledger.central.ingest.queries import list_liveness, radar_liveness
from speedledger.central.radars.commands import (
    RecordMetrology,
    RegisterRadar,
    RevokeRadarKey,
    RotateRadarKey,
    UpdateRadar,
)
from speedledger.central.radars.domain import MAX_LIMIT_KMH, MIN_LIMIT_KMH
from speedledger.central.radars.metrology import DAY_MS, KINDS, MetrologyRecord
from speedledger.central.radars.queries import RadarView, get_radar, list_radars, radars_due_for_verification

router = APIRouter(prefix="/api/v1/radars", tags=["radars"], route_class=GuardedRoute)

RadarId = Annotated[str, Path(pattern=RADAR_ID_PATTERN, description="`[A-Za-z0-9-]{1,32}`")]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
SpeedLimit = Annotated[int, Field(ge=MIN_LIMIT_KMH, le=MAX_LIMIT_KMH), WholeNumber]
PublicKey = Annotated[str, Field(pattern=PUBLIC_KEY_PATTERN, description="Standard base64 of the raw 32-byte key.")]


class MetrologyIn(BaseModel):
    """A certificate; a periodic verification covering a violation's detection time is needed for an infraction."""

    model_config = STRICT_BODY

    kind: Annotated[str, Field(description=f"One of {', '.join(KINDS)}.", pattern=f"^({'|'.join(KINDS)})$")]
    approval_number: Annotated[str, Field(min_length=1, max_length=200, pattern=NAME_PATTERN)]
    verifying_body: Annotated[str, Field(min_length=1, max_length=200, pattern=NAME_PATTERN)]
    verified_at_ms: Millis
    valid_until_ms: Millis
    certificate_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the certificate.")]

    def record(self) -> MetrologyRecord:
        return MetrologyRecord(**self.model_dump())


class RadarCreate(BaseModel):
    model_config = STRICT_BODY

    radar_id: Annotated[str, Field(pattern=RADAR_ID_PATTERN)]
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=NAME_PATTERN)]
    latitude: Latitude
    longitude: Longitude
    speed_limit_kmh: SpeedLimit
    public_key: PublicKey
    metrology: Annotated[
        list[MetrologyIn], Field(max_length=20, description="Certificates recorded with the radar (optional).")
    ] = []


class RadarPatch(BaseModel):
    """Only the fields given change. A limit or status change applies from `effective_at_ms` (default now)."""

    model_config = STRICT_BODY

    name: Annotated[str | None, Field(min_length=1, max_length=200, pattern=NAME_PATTERN)] = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    speed_limit_kmh: SpeedLimit | None = None
    status: Literal["active", "inactive"] | None = None
    effective_at_ms: Millis | None = None


class KeyAdd(BaseModel):
    model_config = STRICT_BODY

    public_key: PublicKey


class KeyAdded(BaseModel):
    radar_id: str
    key_id: str


def with_liveness(radar: RadarView, liveness: Mapping[str, Any] | None) -> RadarView:
    """The radar with `online` and `last_seen_ms` from the ingest's liveness read model."""
    if liveness is None:
        return radar
    return radar.model_copy(update={"online": bool(liveness["online"]), "last_seen_ms": liveness["last_seen_ms"]})


def _radar(central: CentralDep, radar_id: str) -> RadarView:
    with central.engine.connect() as conn:
        radar = get_radar(conn, radar_id)
        if radar is None:
            raise NotFound(f"radar {radar_id!r} not found")
        return with_liveness(radar, radar_liveness(conn, radar_id))


@router.post("", status_code=201, response_model=RadarView, **requires(Permission.RADARS_WRITE))
def register_radar(body: RadarCreate, central: CentralDep, principal: PrincipalDep, response: Response) -> RadarView:
    records = tuple(record.record() for record in body.metrology)
    radar_id = central.bus.handle(
        RegisterRadar(**body.model_dump(exclude={"metrology"}), metrology=records, actor=principal.subject)
    )
    response.headers["Location"] = f"{router.prefix}/{radar_id}"
    return _radar(central, radar_id)


@router.get("", response_model=Page[RadarView], **requires(Permission.RADARS_READ))
def read_radars(
    central: CentralDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    verification_due_within_days: Annotated[
        int | None,
        Query(ge=0, le=3650, description="Only radars without a periodic verification in force for that many days."),
    ] = None,
) -> Page[RadarView]:
    """By radar_id; pass `next_cursor` back as `cursor` for the next page.

    `verification_due_within_days=30` lists the radars whose verification lapses within 30 days, or has lapsed.
    """
    (after,) = decode_cursor(cursor, (str,)) if cursor else ("",)
    with central.engine.connect() as conn:
        liveness = {row["node_id"]: row for row in list_liveness(conn, kind="radar")}
        due = (
            None
            if verification_due_within_days is None
            else radars_due_for_verification(conn, central.clock(), verification_due_within_days * DAY_MS)
        )
        radars = [
            with_liveness(radar, liveness.get(radar.radar_id))
            # Sorted here by code point: the cursor compares that way, whatever the database's collation.
            for radar in sorted(list_radars(conn), key=lambda radar: radar.radar_id)
            if radar.radar_id > str(after) and (due is None or radar.radar_id in due)
        ][: limit + 1]
    return paginate(radars, limit, lambda radar: (radar.radar_id,))


@router.get("/{radar_id}", response_model=RadarView, **requires(Permission.RADARS_READ))
def read_radar(radar_id: RadarId, central: CentralDep) -> RadarView:
    return _radar(central, radar_id)


@router.patch("/{radar_id}", response_model=RadarView, **requires(Permission.RADARS_WRITE))
def update_radar(radar_id: RadarId, body: RadarPatch, central: CentralDep, principal: PrincipalDep) -> RadarView:
    central.bus.handle(UpdateRadar(radar_id=radar_id, **body.model_dump(), actor=principal.subject))
    return _radar(central, radar_id)


@router.post(
    "/{radar_id}/metrology",
    status_code=201,
    response_model=RadarView,
    responses={404: {"model": ErrorOut, "description": "No such radar."}},
    **requires(Permission.RADARS_WRITE),
)
def record_metrology(radar_id: RadarId, body: MetrologyIn, central: CentralDep, principal: PrincipalDep) -> RadarView:
    """Record a type-approval or periodic-verification certificate (back-dated if need be, never in the future)."""
    central.bus.handle(RecordMetrology(radar_id=radar_id, record=body.record(), actor=principal.subject))
    return _radar(central, radar_id)


@router.post("/{radar_id}/keys", status_code=201, response_model=KeyAdded, **requires(Permission.RADARS_WRITE))
def rotate_key(radar_id: RadarId, body: KeyAdd, central: CentralDep, principal: PrincipalDep) -> KeyAdded:
    """Add a signing key; older keys stay valid until revoked (messages may still sit in a radar's journal)."""
    key_id = central.bus.handle(RotateRadarKey(radar_id=radar_id, public_key=body.public_key, actor=principal.subject))
    return KeyAdded(radar_id=radar_id, key_id=key_id)


@router.delete("/{radar_id}/keys/{key_id}", response_model=RadarView, **requires(Permission.RADARS_WRITE))
def revoke_key(
    radar_id: RadarId,
    key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")],
    central: CentralDep,
    principal: PrincipalDep,
    reason: Annotated[str, Query(max_length=500, pattern=TEXT_PATTERN)] = "",
) -> RadarView:
    """Ingest rejects new messages signed with a revoked key; evidence signed earlier still verifies."""
    central.bus.handle(RevokeRadarKey(radar_id=radar_id, key_id=key_id, reason=reason, actor=principal.subject))
    return _radar(central, radar_id)
