"""Radars read model: radars, their keys (revoked ones kept) and speed limit history."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, Integer, MetaData, String, Table

from speedledger.central.eventstore.port import RecordedEvent
from speedledger.central.messages import Event
from speedledger.central.projections.readmodel import TableProjection, Writes
from speedledger.central.radars.events import (
    RADAR_EVENTS,
    MetrologyRecorded,
    RadarDetailsChanged,
    RadarKeyAdded,
    RadarKeyRevoked,
    RadarRegistered,
    RadarStatusChanged,
    SpeedLimitChanged,
)

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

#: Every certificate recorded for a radar, in the order recorded (`position` in the event log).
radar_metrology = Table(
    "radar_metrology",
    metadata,
    Column("radar_id", String(32), primary_key=True),
    Column("position", BigInteger, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("approval_number", String(200), nullable=False),
    Column("verifying_body", String(200), nullable=False),
    Column("verified_at_ms", BigInteger, nullable=False),
    Column("valid_until_ms", BigInteger, nullable=False),
    Column("certificate_sha256", String(64), nullable=False),
    Column("recorded_at_ms", BigInteger, nullable=False),
)


class RadarsProjection(TableProjection):
    name = "radars"
    event_types = RADAR_EVENTS

    def __init__(self) -> None:
        super().__init__([radars, radar_keys, radar_speed_limits, radar_metrology])

    def handle(self, writes: Writes, event: Event, recorded: RecordedEvent) -> None:
        match event:
            case RadarRegistered():
                writes.insert(
                    "radars",
                    radar_id=event.radar_id,
                    name=event.name,
                    latitude=event.latitude,
                    longitude=event.longitude,
                    speed_limit_kmh=event.speed_limit_kmh,
                    status="active",
                    registered_at_ms=event.registered_at_ms,
                    updated_at_ms=event.registered_at_ms,
                )
                self._add_key(writes, event.radar_id, event.key_id, event.public_key, event.registered_at_ms)
                self._start_limit_period(writes, event.radar_id, event.registered_at_ms, event.speed_limit_kmh)
            case RadarDetailsChanged():
                writes.update(
                    "radars",
                    {"radar_id": event.radar_id},
                    name=event.name,
                    latitude=event.latitude,
                    longitude=event.longitude,
                    updated_at_ms=event.changed_at_ms,
                )
            case SpeedLimitChanged():
                writes.update(
                    "radars",
                    {"radar_id": event.radar_id},
                    speed_limit_kmh=event.speed_limit_kmh,
                    updated_at_ms=event.effective_at_ms,
                )
                self._start_limit_period(writes, event.radar_id, event.effective_at_ms, event.speed_limit_kmh)
            case RadarStatusChanged():
                writes.update(
                    "radars", {"radar_id": event.radar_id}, status=event.status, updated_at_ms=event.effective_at_ms
                )
            case RadarKeyAdded():
                self._add_key(writes, event.radar_id, event.key_id, event.public_key, event.added_at_ms)
            case RadarKeyRevoked():
                writes.update(
                    "radar_keys",
                    {"radar_id": event.radar_id, "key_id": event.key_id},
                    revoked=True,
                    revoked_at_ms=event.revoked_at_ms,
                    revoke_reason=event.reason,
                )
            case MetrologyRecorded():
                writes.insert("radar_metrology", **event.data(), position=recorded.position)

    def _add_key(self, writes: Writes, radar_id: str, key_id: str, public_key: str, added_at_ms: int) -> None:
        writes.insert(
            "radar_keys",
            radar_id=radar_id,
            key_id=key_id,
            public_key=public_key,
            added_at_ms=added_at_ms,
            revoked=False,
        )

    def _start_limit_period(self, writes: Writes, radar_id: str, from_ms: int, speed_limit_kmh: int) -> None:
        start_limit_period(writes, "radar_speed_limits", "radar_id", radar_id, from_ms, speed_limit_kmh)


def start_limit_period(
    writes: Writes, limit_table: str, key_column: str, key: str, from_ms: int, speed_limit_kmh: int
) -> None:
    """A limit history row (radars', sections'): a second change at the same instant supersedes the
    first, as in the domain timeline."""
    writes.delete(limit_table, {key_column: key, "effective_from_ms": from_ms})
    writes.insert(limit_table, **{key_column: key, "effective_from_ms": from_ms, "speed_limit_kmh": speed_limit_kmh})
