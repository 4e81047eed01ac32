"""Read side of the radars context: plain functions over a SQLAlchemy connection, returning API schemas."""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Connection, Table, exists, select, true

from speedledger.central.radars.metrology import PERIODIC_VERIFICATION, MetrologyRecord
from speedledger.central.radars.projection import radar_keys, radar_metrology, radar_speed_limits, radars


class RadarKeyView(BaseModel):
    key_id: str
    public_key: str
    added_at_ms: int
    revoked: bool
    revoked_at_ms: int | None = None
    revoke_reason: str | None = None


class SpeedLimitPeriod(BaseModel):
    effective_from_ms: int
    speed_limit_kmh: int


class RadarView(BaseModel):
    radar_id: str
    name: str
    latitude: float
    longitude: float
    speed_limit_kmh: int
    status: str
    registered_at_ms: int
    updated_at_ms: int
    keys: list[RadarKeyView]
    speed_limit_history: list[SpeedLimitPeriod]
    #: Type-approval and periodic-verification certificates, in the order recorded.
    metrology: list[MetrologyRecord] = []
    #: Liveness comes from the ingest's read model; the API fills these two in.
    online: bool = False
    last_seen_ms: int | None = None


def list_radars(conn: Connection) -> list[RadarView]:
    """Every radar with its keys, limit history and metrology (four queries, whatever the number of radars)."""
    return _views(conn, None)


def get_radar(conn: Connection, radar_id: str) -> RadarView | None:
    views = _views(conn, radar_id)
    return views[0] if views else None


def _views(conn: Connection, radar_id: str | None) -> list[RadarView]:
    def only(table: Table) -> ColumnElement[bool]:
        return true() if radar_id is None else table.c.radar_id == radar_id

    rows = conn.execute(select(radars).where(only(radars)).order_by(radars.c.radar_id)).mappings().all()
    keys: dict[str, list[RadarKeyView]] = defaultdict(list)
    for key in conn.execute(
        select(radar_keys).where(only(radar_keys)).order_by(radar_keys.c.added_at_ms, radar_keys.c.key_id)
    ).mappings():
        keys[key["radar_id"]].append(RadarKeyView.model_validate(dict(key)))
    limits: dict[str, list[SpeedLimitPeriod]] = defaultdict(list)
    for limit in conn.execute(
        select(radar_speed_limits).where(only(radar_speed_limits)).order_by(radar_speed_limits.c.effective_from_ms)
    ).mappings():
        limits[limit["radar_id"]].append(SpeedLimitPeriod.model_validate(dict(limit)))
    metrology: dict[str, list[MetrologyRecord]] = defaultdict(list)
    for record in conn.execute(
        select(radar_metrology).where(only(radar_metrology)).order_by(radar_metrology.c.position)
    ).mappings():
        metrology[record["radar_id"]].append(MetrologyRecord.from_fields(dict(record)))
    return [
        RadarView.model_validate(
            {
                **row,
                "keys": keys[row["radar_id"]],
                "speed_limit_history": limits[row["radar_id"]],
                "metrology": metrology[row["radar_id"]],
            }
        )
        for row in rows
    ]


def radars_due_for_verification(conn: Connection, now_ms: int, within_ms: int) -> set[str]:
    """Radars with no periodic verification in force from now until `now_ms + within_ms` (overdue ones too)."""
    covered = exists().where(
        (radar_metrology.c.radar_id == radars.c.radar_id)
        & (radar_metrology.c.kind == PERIODIC_VERIFICATION)
        & (radar_metrology.c.verified_at_ms <= now_ms)
        & (radar_metrology.c.valid_until_ms > now_ms + within_ms)
    )
    return set(conn.execute(select(radars.c.radar_id).where(~covered)).scalars())
