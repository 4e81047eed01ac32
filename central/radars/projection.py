"""Radars read model: radars, their keys (revoked ones kept) and speed limit history."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Connection, Float, Integer, MetaData, String, Table, update

from speedledger.central.eventstore.port import RecordedEvent
from speedledger.central.model import Event
from speedledger.central.radars.events import (
    RADAR_EVENTS,
    RadarDetailsChanged,
    RadarKeyAdded,
    RadarKeyRevoked,
    RadarRegistered,
    RadarStatusChanged,
    SpeedLimitChanged,
)
from speedledger.central.readmodel import TableProjection

metadata = MetaData()

radars = Table(
    "radars",
    metadata,
    Column("radar_id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
    Column("speed_limit_kmh", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("registered_at_ms", BigInteger, nullable=False),
    Column("updated_at_ms", BigInteger, nullable=False),
)

radar_keys = Table(
    "radar_keys",
    metadata,
    Column("radar_id", String(32), primary_key=True),
    Column("key_id", String(16), primary_key=True),
    Column("public_key", String(64), nullable=False),
    Column("added_at_ms", BigInteger, nullable=False),
    Column("revoked", Boolean, nullable=False),
    Column("revoked_at_ms", BigInteger),
    Column("revoke_reason", String(500)),
)

#: One row a period; the first period of a radar applies to everything detected before it too.
radar_speed_limits = Table(
    "radar_speed_limits",
    metadata,
    Column("radar_id", String(32), primary_key=True),
    Column("effective_from_ms", BigInteger, primary_key=True),
    Column("speed_limit_kmh", Integer, nullable=False),
)


class RadarsProjection(TableProjection):
    name = "radars"
    event_types = RADAR_EVENTS

    def __init__(self) -> None:
        super().__init__([radars, radar_keys, radar_speed_limits])

    def handle(self, conn: Connection, event: Event, recorded: RecordedEvent) -> None:
        radar_table, key_table, limit_table = (
            self.table("radars"),
            self.table("radar_keys"),
            self.table("radar_speed_limits"),
        )
        match event:
            case RadarRegistered():
                conn.execute(
                    radar_table.insert(),
                    dict(
                        radar_id=event.radar_id,
                        name=event.name,
                        latitude=event.latitude,
                        longitude=event.longitude,
                        speed_limit_kmh=event.speed_limit_kmh,
                        status="active",
                        registered_at_ms=event.registered_at_ms,
                        updated_at_ms=event.registered_at_ms,
                    ),
                )
                conn.execute(
                    key_table.insert(),
                    dict(
                        radar_id=event.radar_id,
                        key_id=event.key_id,
                        public_key=event.public_key,
                        added_at_ms=event.registered_at_ms,
                        revoked=False,
                    ),
                )
                conn.execute(
                    limit_table.insert(),
                    dict(
                        radar_id=event.radar_id,
                        effective_from_ms=event.registered_at_ms,
                        speed_limit_kmh=event.speed_limit_kmh,
                    ),
                )
            case RadarDetailsChanged():
                conn.execute(
                    update(radar_table)
                    .where(radar_table.c.radar_id == event.radar_id)
                    .values(
                        name=event.name,
                        latitude=event.latitude,
                        longitude=event.longitude,
                        updated_at_ms=event.changed_at_ms,
                    )
                )
            case SpeedLimitChanged():
                conn.execute(
                    update(radar_table)
                    .where(radar_table.c.radar_id == event.radar_id)
                    .values(speed_limit_kmh=event.speed_limit_kmh, updated_at_ms=event.effective_at_ms)
                )
                # A second change at the same instant supersedes the first (as in the domain timeline).
                conn.execute(
                    limit_table.delete().where(
                        (limit_table.c.radar_id == event.radar_id)
                        & (limit_table.c.effective_from_ms == event.effective_at_ms)
                    )
                )
                conn.execute(
                    limit_table.insert(),
                    dict(
                        radar_id=event.radar_id,
                        effective_from_ms=event.effective_at_ms,
                        speed_limit_kmh=event.speed_limit_kmh,
                    ),
                )
            case RadarStatusChanged():
                conn.execute(
                    update(radar_table)
                    .where(radar_table.c.radar_id == event.radar_id)
                    .values(status=event.status, updated_at_ms=event.effective_at_ms)
                )
            case RadarKeyAdded():
                conn.execute(
                    key_table.insert(),
                    dict(
                        radar_id=event.radar_id,
                        key_id=event.key_id,
                        public_key=event.public_key,
                        added_at_ms=event.added_at_ms,
                        revoked=False,
                    ),
                )
            case RadarKeyRevoked():
                conn.execute(
                    update(key_table)
                    .where((key_table.c.radar_id == event.radar_id) & (key_table.c.key_id == event.key_id))
                    .values(revoked=True, revoked_at_ms=event.revoked_at_ms, revoke_reason=event.reason)
                )
