"""The section computation (pure): average speed in favour of the driver, retained speed and fine.

CONTRACT section 6: distance / (t_exit - t_entry), the interval lengthened by both radars' clock
uncertainties, truncated to whole km/h; then the retained-speed rule and fine schedule of spot speed
(`infractions/fines.py`) against the section's limit. Integers only, so no rounding moves a boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

from speedledger.central.infractions.fines import Fine, FineSchedule

#: 1 m/ms is 3600 km/h.
_KMH_PER_M_PER_MS = 3600


@dataclass(frozen=True)
class PassageTime:
    """When a vehicle crossed a radar's reference line, and the radar's bound on its clock error."""

    at_ms: int
    uncertainty_ms: int


@dataclass(frozen=True)
class SectionSpeed:
    average_speed_kmh: int
    retained_speed_kmh: int
    #: None when the retained speed does not exceed the limit (no infraction).
    fine: Fine | None


def average_speed_kmh(distance_m: int, entry: PassageTime, exit: PassageTime) -> int:
    """The average speed in favour of the driver, truncated to whole km/h."""
    interval_ms = exit.at_ms - entry.at_ms + entry.uncertainty_ms + exit.uncertainty_ms
    if interval_ms <= 0:
        raise ValueError("the exit passage must come after the entry passage")
    return distance_m * _KMH_PER_M_PER_MS // interval_ms


def section_speed(
    distance_m: int, speed_limit_kmh: int, entry: PassageTime, exit: PassageTime, schedule: FineSchedule
) -> SectionSpeed:
    """Average and retained speed over the section, and the fine when the retained speed exceeds the limit."""
    average = average_speed_kmh(distance_m, entry, exit)
    retained = schedule.retained_speed_kmh(average * 100)
    excess = retained - speed_limit_kmh
    return SectionSpeed(average, retained, schedule.fine(speed_limit_kmh, excess) if excess >= 1 else None)
