"""Events of the sections context: a section's in stream `section-{section_id}`; a recorded passage in
the radar's message stream `violation-{radar_id}-{seq}` (one seq counter for violations and passages)."""

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


@dataclass(frozen=True)
class PassageRecorded(Event, type_name="PassageRecorded"):
    """A verified passage (CONTRACT §6). The device's signed message is kept whole, as received, but only
    sealed under its retention window's key (`retention.py`): the plate, image hash and signature are
    in `sealed` alone; the fields in clear say nothing about who passed."""

    event_id: str
    radar_id: str
    seq: int
    passed_at_ms: int
    plate_confidence_pm: int
    #: Which evidence image the passage signed (matched by the ingest; a hash says nothing of the picture).
    image_sha256: str
    received_at_ms: int
    key_id: str
    #: `Window.subject` of the key that seals it.
    window: str
    #: The bytes the radar sent, sealed (`PassageWindows.seal`); None: its window had already closed
    #: when it arrived (a radar offline for longer than the retention), so it was forgotten on arrival.
    sealed: str | None


SECTION_EVENTS = EventTypes([SectionCreated, SectionLimitChanged])
PASSAGE_EVENTS = EventTypes([PassageRecorded])


def section_stream(section_id: str) -> str:
    return f"section-{section_id}"
