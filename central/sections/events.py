"""Events of the sections context: a section's in stream `section-{section_id}`; a recorded passage in
the radar's message stream `violation-{radar_id}-{seq}` (one seq counter for violations and passages)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class PassageRecorded(Event, type_name="PassageRecorded"):
    """A verified passage (CONTRACT §6), the device's signed message kept whole."""

    message: Mapping[str, Any]
    received_at_ms: int
    key_id: str


SECTION_EVENTS = EventTypes([SectionCreated, SectionLimitChanged])
PASSAGE_EVENTS = EventTypes([PassageRecorded])


def section_stream(section_id: str) -> str:
    return f"section-{section_id}"
