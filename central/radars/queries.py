"""Read side of the radars context: plain functions over a SQLAlchemy connection, returning API schemas."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import Connection, select

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
    rows = conn.execute(select(radars).order_by(radars.c.radar_id)).mappings().all()
    return [_view(conn, dict(row)) for row in rows]


def get_radar(conn: Connection, radar_id: str) -> RadarView | None:
    row = conn.execute(select(radars).where(radars.c.radar_id == radar_id)).mappings().first()
    return _view(conn, dict(row)) if row is not None else None


def _view(conn: Connection, row: dict[str, object]) -> RadarView:
    radar_id = row["radar_id"]
    keys = conn.execute(
        select(radar_keys).where(radar_keys.c.radar_id == radar_id).order_by(radar_keys.c.added_at_ms)
    ).mappings()
    limits = conn.execute(
        select(radar_speed_limits)
        .where(radar_speed_limits.c.radar_id == radar_id)
        .order_by(radar_speed_limits.c.effective_from_ms)
    ).mappings()
    return RadarView.model_validate(
        {
            **row,
            "keys": [RadarKeyView.model_validate(dict(key)) for key in keys],
            "speed_limit_history": [SpeedLimitPeriod.model_validate(dict(limit)) for limit in limits],
        }
    )
