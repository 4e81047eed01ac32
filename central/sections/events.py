"""Events of the sections context, all in stream `section-{section_id}`."""

from __future__ import annotations

from dataclasses import dataclass

from speedledger.central.messages import Event, EventTypes


@dataclass(frozen=True)
class SectionCreated(Event, type_name="SectionCreated"):
    section_id: str
    entry_radar_id: str
    exit_radar_id: str
    distance_m: int
    speed_limit_kmh: int
    created_at_ms: int


@dataclass(frozen=True)
class SectionLimitChanged(Event, type_name="SectionLimitChanged"):
    section_id: str
    speed_limit_kmh: int
    previous_speed_limit_kmh: int
    effective_at_ms: int


SECTION_EVENTS = EventTypes([SectionCreated, SectionLimitChanged])


def section_stream(section_id: str) -> str:
    return f"section-{section_id}"
