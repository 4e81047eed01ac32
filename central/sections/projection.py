"""Sections read model: sections and their speed limit history."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table

from speedledger.central.eventstore.port import RecordedEvent
from speedledger.central.messages import Event
from speedledger.central.projections.readmodel import TableProjection, Writes
from speedledger.central.radars.projection import start_limit_period
from speedledger.central.sections.events import SECTION_EVENTS, SectionCreated, SectionLimitChanged

metadata = MetaData()

sections = Table(
    "sections",
    metadata,
    Column("section_id", String(32), primary_key=True),
    Column("entry_radar_id", String(32), nullable=False),
    Column("exit_radar_id", String(32), nullable=False),
    Column("distance_m", Integer, nullable=False),
    Column("speed_limit_kmh", Integer, nullable=False),
    Column("created_at_ms", BigInteger, nullable=False),
    Column("updated_at_ms", BigInteger, nullable=False),
)

#: One row a period; the first period of a section applies to everything before it too.
section_speed_limits = Table(
    "section_speed_limits",
    metadata,
    Column("section_id", String(32), primary_key=True),
    Column("effective_from_ms", BigInteger, primary_key=True),
    Column("speed_limit_kmh", Integer, nullable=False),
)


class SectionsProjection(TableProjection):
    name = "sections"
    event_types = SECTION_EVENTS

    def __init__(self) -> None:
        super().__init__([sections, section_speed_limits])

    def handle(self, writes: Writes, event: Event, recorded: RecordedEvent) -> None:
        match event:
            case SectionCreated():
                writes.insert(
                    "sections",
                    section_id=event.section_id,
                    entry_radar_id=event.entry_radar_id,
                    exit_radar_id=event.exit_radar_id,
                    distance_m=event.distance_m,
                    speed_limit_kmh=event.speed_limit_kmh,
                    created_at_ms=event.created_at_ms,
                    updated_at_ms=event.created_at_ms,
                )
                self._start_limit_period(writes, event.section_id, event.created_at_ms, event.speed_limit_kmh)
            case SectionLimitChanged():
                writes.update(
                    "sections",
                    {"section_id": event.section_id},
                    speed_limit_kmh=event.speed_limit_kmh,
                    updated_at_ms=event.effective_at_ms,
                )
                self._start_limit_period(writes, event.section_id, event.effective_at_ms, event.speed_limit_kmh)

    def _start_limit_period(self, writes: Writes, section_id: str, from_ms: int, speed_limit_kmh: int) -> None:
        start_limit_period(writes, "section_speed_limits", "section_id", section_id, from_ms, speed_limit_kmh)
