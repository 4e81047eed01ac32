"""Read side of the radars context: plain functions over a SQLAlchemy connection, returning API schemas."""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Connection, Table, select, true

from speedledger.central.radars.projection import radar_keys, radar_speed_limits, radars


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
    #: Liveness comes from the ingest's read model; the API fills these two in.
    online: bool = False
    last_seen_ms: int | None = None


def list_radars(conn: Connection) -> list[RadarView]:
    """Every radar with its keys and limit history (three queries, whatever the number of radars)."""
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
    return [
        RadarView.model_validate({**row, "keys": keys[row["radar_id"]], "speed_limit_history": limits[row["radar_id"]]})
        for row in rows
    ]
