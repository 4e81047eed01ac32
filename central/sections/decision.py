"""The section infraction (pure): from an entry and an exit passage that pair, an infraction or nothing.

CONTRACT §6: the average speed in favour of the driver (`speed.py`) against the section's limit at
the exit time, the spot-speed fine schedule, and the owner at the exit time (an unknown plate is
`unidentified`, never a guess). The infraction is the exit's: `infraction_id_for(exit event_id)`, so
an exit passage is in at most one infraction, and it carries both signed passages as its evidence.

Radar status and metrology (CONTRACT §6 is silent; the spot-speed rule applied to both ends): a pair
over the limit whose entry or exit radar was not active when its passage was made is dismissed,
`radar_inactive`; else, when either had no periodic verification in force then, `radar_not_verified`,
as a spot violation is (`infractions.domain.radar_unfit`). A pair within the limit gives nothing
either way (no dismissal recorded for a car that did nothing wrong).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from speedledger.central.infractions.domain import (
    DismissalReason,
    InfractionKind,
    RadarFacts,
    VehicleFacts,
    identify_owner,
    infraction_id_for,
    radar_unfit,
)
from speedledger.central.infractions.events import InfractionIssued, ViolationDismissed
from speedledger.central.infractions.fines import FineSchedule
from speedledger.central.sections.domain import SectionState
from speedledger.central.sections.speed import PassageTime, section_speed


def passage_time(message: Mapping[str, Any]) -> PassageTime:
    return PassageTime(int(message["passed_at_ms"]), int(message["clock_uncertainty_ms"]))


def radars_unfit(
    radars: tuple[RadarFacts | None, RadarFacts | None], entry: Mapping[str, Any], exit: Mapping[str, Any]
) -> DismissalReason | None:
    """Why the pair fines nobody on its radars' account (`radar_unfit` at each passage's time: an inactive
    radar first, then one without a verification in force; a radar central does not know proves nothing
    either), None when both could fine."""
    reasons = [
        radar_unfit(radar, int(passage["passed_at_ms"])) if radar is not None else DismissalReason.RADAR_NOT_VERIFIED
        for radar, passage in zip(radars, (entry, exit), strict=True)
    ]
    return min((reason for reason in reasons if reason is not None), key=list(DismissalReason).index, default=None)


def decide_pair(
    section: SectionState,
    entry: Mapping[str, Any],
    exit: Mapping[str, Any],
    radars: tuple[RadarFacts | None, RadarFacts | None],
    vehicle: VehicleFacts | None,
    schedule: FineSchedule,
    now_ms: int,
    exit_received_at_ms: int,
) -> InfractionIssued | ViolationDismissed | None:
    """The infraction for this pair; None when the retained average speed is within the limit; the
    dismissal when it is not but a radar (`radars`: the entry's, the exit's) was inactive or not verified."""
    exit_at_ms = int(exit["passed_at_ms"])
    limit = section.speed_limit_at(exit_at_ms)
    speed = section_speed(section.distance_m, limit, passage_time(entry), passage_time(exit), schedule)
    if speed.fine is None:
        return None
    unfit = radars_unfit(radars, entry, exit)
    if unfit is not None:
        return ViolationDismissed(
            event_id=str(exit["event_id"]),
            radar_id=str(exit["radar_id"]),
            seq=int(exit["seq"]),
            reason=unfit,
            detected_at_ms=exit_at_ms,
            measured_speed_ckmh=speed.average_speed_kmh * 100,
            retained_speed_kmh=speed.retained_speed_kmh,
            speed_limit_kmh=limit,
            device_speed_limit_kmh=limit,
            decided_at_ms=now_ms,
            section_id=section.section_id,
            received_at_ms=exit_received_at_ms,
        )
    plate = str(exit["plate"])
    identification = identify_owner(plate, vehicle, exit_at_ms)
    return InfractionIssued(
        infraction_id=infraction_id_for(str(exit["event_id"])),
        event_id=str(exit["event_id"]),
        radar_id=str(exit["radar_id"]),
        seq=int(exit["seq"]),
        plate=plate,
        owner_id=identification.owner_id,
        status=identification.status,
        unidentified_reason=identification.unidentified_reason,
        detected_at_ms=exit_at_ms,
        direction=str(exit["direction"]),
        measured_speed_ckmh=speed.average_speed_kmh * 100,
        retained_speed_kmh=speed.retained_speed_kmh,
        speed_limit_kmh=limit,
        device_speed_limit_kmh=limit,
        excess_kmh=speed.retained_speed_kmh - limit,
        fine_eur=speed.fine.fine_eur,
        points=speed.fine.points,
        fine_schedule=schedule.name,
        image_sha256=str(exit["image_sha256"]),
        plate_confidence_pm=min(int(entry["plate_confidence_pm"]), int(exit["plate_confidence_pm"])),
        issued_at_ms=now_ms,
        kind=InfractionKind.SECTION,
        section_id=section.section_id,
        entry_event_id=str(entry["event_id"]),
        exit_event_id=str(exit["event_id"]),
        average_speed_kmh=speed.average_speed_kmh,
        entry_message=dict(entry),
        exit_message=dict(exit),
    )
