"""Section decisions (pure): validate commands against the section's state and return the events to append.

A section keeps the timeline of its limit (as a radar does), so a pair of passages is judged by the
limit in force at the exit time, whatever changed later.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from speedledger.central.errors import Conflict, Invalid, NotFound
from speedledger.central.messages import Event
from speedledger.central.radars.domain import RADAR_ID, Timeline, check_effective_at, check_speed_limit
from speedledger.central.sections.commands import ChangeSectionLimit, CreateSection
from speedledger.central.sections.events import SectionCreated, SectionLimitChanged

#: Section ids follow the radar id rule, `[A-Za-z0-9-]{1,32}`.
SECTION_ID = RADAR_ID
MIN_DISTANCE_M = 100
MAX_DISTANCE_M = 200_000
#: The slowest average speed still worth pairing: an exit later than distance / this speed is a
#: different trip (and could never be an infraction). It bounds the pairing window of each section.
MIN_PLAUSIBLE_SPEED_KMH = 10


@dataclass(frozen=True)
class SectionState:
    section_id: str
    entry_radar_id: str
    exit_radar_id: str
    distance_m: int
    speed_limits: Timeline
    created_at_ms: int

    @property
    def speed_limit_kmh(self) -> int:
        return int(self.speed_limits.current)

    def speed_limit_at(self, at_ms: int) -> int:
        return int(self.speed_limits.at(at_ms))

    @property
    def max_travel_ms(self) -> int:
        """The longest plausible travel time from entry to exit."""
        return max_travel_ms(self.distance_m)


def max_travel_ms(distance_m: int) -> int:
    return distance_m * 3600 // MIN_PLAUSIBLE_SPEED_KMH


def evolve(state: SectionState | None, event: Event) -> SectionState:
    if isinstance(event, SectionCreated):
        return SectionState(
            section_id=event.section_id,
            entry_radar_id=event.entry_radar_id,
            exit_radar_id=event.exit_radar_id,
            distance_m=event.distance_m,
            speed_limits=Timeline((event.created_at_ms,), (event.speed_limit_kmh,)),
            created_at_ms=event.created_at_ms,
        )
    if state is None:
        raise ValueError(f"{event.type} before SectionCreated")
    if isinstance(event, SectionLimitChanged):
        return replace(state, speed_limits=state.speed_limits.then(event.effective_at_ms, event.speed_limit_kmh))
    return state


def create(command: CreateSection, state: SectionState | None, now_ms: int) -> list[Event]:
    """Radars' existence is the handler's to check (another context); everything else is here."""
    if not SECTION_ID.fullmatch(command.section_id):
        raise Invalid("section_id must match [A-Za-z0-9-]{1,32}")
    if state is not None:
        raise Conflict(f"section {command.section_id} already exists")
    if command.entry_radar_id == command.exit_radar_id:
        raise Invalid("entry_radar_id and exit_radar_id must be two different radars")
    if isinstance(command.distance_m, bool) or not isinstance(command.distance_m, int):
        raise Invalid("distance_m must be an integer")
    if not MIN_DISTANCE_M <= command.distance_m <= MAX_DISTANCE_M:
        raise Invalid(f"distance_m must be between {MIN_DISTANCE_M} and {MAX_DISTANCE_M}")
    check_speed_limit(command.speed_limit_kmh)
    return [
        SectionCreated(
            section_id=command.section_id,
            entry_radar_id=command.entry_radar_id,
            exit_radar_id=command.exit_radar_id,
            distance_m=command.distance_m,
            speed_limit_kmh=command.speed_limit_kmh,
            created_at_ms=now_ms,
        )
    ]


def change_limit(command: ChangeSectionLimit, state: SectionState | None, now_ms: int) -> list[Event]:
    if state is None:
        raise NotFound(f"section {command.section_id} does not exist")
    if command.speed_limit_kmh == state.speed_limit_kmh:
        return []
    check_speed_limit(command.speed_limit_kmh)
    effective_at_ms = now_ms if command.effective_at_ms is None else command.effective_at_ms
    check_effective_at(effective_at_ms, state.speed_limits, now_ms)
    return [
        SectionLimitChanged(
            section_id=state.section_id,
            speed_limit_kmh=command.speed_limit_kmh,
            previous_speed_limit_kmh=state.speed_limit_kmh,
            effective_at_ms=effective_at_ms,
        )
    ]
