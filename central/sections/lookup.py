"""What other parts of central may ask of the sections context: a section as of its last committed event."""

from __future__ import annotations

from speedledger.central.eventstore.port import EventStore
from speedledger.central.sections.aggregate import SECTION
from speedledger.central.sections.domain import SectionState

__all__ = ["SectionState", "load_section"]


def load_section(store: EventStore, section_id: str) -> SectionState | None:
    """The section (radars, distance, limit now and at any past instant), or None when unknown."""
    return SECTION.state(store, section_id)
