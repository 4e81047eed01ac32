"""Commands of the sections context. Results of `MessageBus.handle` are given per command."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from speedledger.central.messages import Command


@dataclass(frozen=True)
class CreateSection(Command):
    """Create a section: an ordered pair of registered radars on one road, the driving distance between
    their reference lines, and the section's own limit.

    Result: the section_id. Conflict when it exists; Invalid for a bad id, distance, limit or the same
    radar at both ends; NotFound when a radar is not registered.
    """

    section_id: str
    entry_radar_id: str
    exit_radar_id: str
    distance_m: int
    speed_limit_kmh: int


@dataclass(frozen=True)
class ChangeSectionLimit(Command):
    """Change the section's limit from `effective_at_ms` (default now; never in the future, never before
    the previous change), so passages paired earlier keep the limit of their time. Result: None.
    """

    section_id: str
    speed_limit_kmh: int
    effective_at_ms: int | None = None


@dataclass(frozen=True)
class RecordPassage(Command):
    """Trusted feed of a signed passage (tests, demo); the MQTT ingest appends the same event.

    Checked like a violation (`infractions.commands.RecordViolation`): result "accepted" or "duplicate";
    Conflict for a seq already used (violations and passages share it); NotFound, Invalid as there.
    """

    message: Mapping[str, Any]
    received_at_ms: int | None = None
