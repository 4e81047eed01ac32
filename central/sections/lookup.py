"""What other parts of central may ask of the sections context: a section as of its last committed event."""

from __future__ import annotations

from sqlalchemy import Connection, select

from speedledger.central.eventstore.port import EventStore
from speedledger.central.sections.aggregate import SECTION
from speedledger.central.sections.domain import SectionState
from speedledger.central.sections.projection import sections

__all__ = ["SectionState", "load_section", "sections_entered_at"]


def load_section(store: EventStore, section_id: str) -> SectionState | None:
    """The section (radars, distance, limit now and at any past instant), or None when unknown."""
    return SECTION.state(store, section_id)


def sections_entered_at(conn: Connection, radar_id: str) -> list[str]:
    """The sections whose entry radar is `radar_id` (sections read model; a section's radars never change)."""
    return list(conn.scalars(select(sections.c.section_id).where(sections.c.entry_radar_id == radar_id)))
