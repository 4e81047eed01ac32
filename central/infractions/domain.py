"""Infraction decisions (pure): from a verified violation to an infraction, and the status lifecycle.

Central's own limit at detection time governs (the device's value is only recorded beside it);
the owner is the one at detection time; an unread or unknown plate is never guessed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Protocol

from speedledger.central.errors import Conflict, NotFound
from speedledger.central.infractions.events import (
    InfractionCancelled,
    InfractionContested,
    InfractionIdentified,
    InfractionIssued,
    InfractionPaid,
    InfractionUpheld,
    ViolationDismissed,
)
from speedledger.central.infractions.fines import FineSchedule
from speedledger.central.messages import Event

#: Fixed namespace: infraction_id = uuid5(namespace, violation event_id), the same on every replay.
INFRACTION_NAMESPACE = uuid.UUID("6f1e7b52-2d0c-5b8e-9a43-3c9d1f0e7a61")


class InfractionStatus(StrEnum):
    """The lifecycle's statuses, as stored, projected and shown by the REST API."""

    ISSUED = "issued"
    PAID = "paid"
    CONTESTED = "contested"
    CANCELLED = "cancelled"
    UNIDENTIFIED = "unidentified"


class DismissalReason(StrEnum):
    """Why a verified violation gives no infraction (`ViolationDismissed.reason`), in the order checked."""

    UNKNOWN_RADAR = "unknown_radar"
    RADAR_INACTIVE = "radar_inactive"
    #: No periodic verification in force at detection time: the measurement proves nothing.
    RADAR_NOT_VERIFIED = "radar_not_verified"
    NOT_OVER_LIMIT = "not_over_limit"


class InfractionKind(StrEnum):
    """Spot speed at one radar, or average speed over a section (CONTRACT §6)."""

    SPOT = "spot"
    SECTION = "section"


@dataclass(frozen=True)
class Identification:
    """Who an infraction is charged to: the owner at the time, or nobody and why (never a guess)."""

    owner_id: str | None
    status: InfractionStatus
    #: None, "plate_unread", "plate_unknown" or "no_owner_at_detection".
    unidentified_reason: str | None


def identify_owner(plate: str, vehicle: VehicleFacts | None, at_ms: int) -> Identification:
    owner_id = vehicle.owner_at(at_ms) if vehicle is not None else None
    if not plate:
        reason: str | None = "plate_unread"
    elif vehicle is None:
        reason = "plate_unknown"
    elif owner_id is None:
        reason = "no_owner_at_detection"
    else:
        reason = None
    return Identification(owner_id, InfractionStatus.UNIDENTIFIED if reason else InfractionStatus.ISSUED, reason)


class RadarFacts(Protocol):
    """What a decision asks of the radars context (`radars.lookup.RadarState` gives it)."""

    @property
    def radar_id(self) -> str: ...

    def speed_limit_at(self, at_ms: int) -> int: ...

    def status_at(self, at_ms: int) -> str: ...

    def verification_at(self, at_ms: int) -> object | None:
        """The periodic verification in force at `at_ms` (a `radars.metrology.MetrologyRecord`), or None."""


class VehicleFacts(Protocol):
    """What a decision asks of the registration context (`registration.lookup.VehicleState` gives it)."""

    def owner_at(self, at_ms: int) -> str | None: ...


#: Fixed namespace of decision event ids: every decision about one violation has the same event id.
DECISION_NAMESPACE = uuid.UUID("0b6a3f9e-41c2-5d7e-8f10-5a2c7e9d4b83")


def infraction_id_for(event_id: str) -> str:
    return str(uuid.uuid5(INFRACTION_NAMESPACE, event_id))


def decision_event_id(event_id: str) -> str:
    """The store event id of the decision about violation `event_id`. The store refuses a second event
    with the same id, whatever its stream: so an infraction and a dismissal can never both be
    recorded for one violation, however its radar's history is later corrected."""
    return str(uuid.uuid5(DECISION_NAMESPACE, event_id))


#: Metadata key of a decision naming the event it decides (the one its `decision_event_id` derives from).
CAUSATION = "causation_id"


def decision_metadata(actor: str, cause_event_id: str) -> dict[str, str]:
    """The metadata of the decision about `cause_event_id` (stored with `decision_event_id(cause_event_id)`)."""
    return {"actor": actor, CAUSATION: cause_event_id}


@dataclass(frozen=True)
class InfractionState:
    infraction_id: str
    status: InfractionStatus
    detected_at_ms: int


def radar_unfit(radar: RadarFacts, at_ms: int) -> DismissalReason | None:
    """Why a measurement the radar made at `at_ms` fines nobody, None when it may: the radar was not
    active, or had no periodic verification in force (then it proves nothing, not even "under the limit")."""
    if radar.status_at(at_ms) != "active":
        return DismissalReason.RADAR_INACTIVE
    if radar.verification_at(at_ms) is None:
        return DismissalReason.RADAR_NOT_VERIFIED
    return None


def decide_violation(
    message: Mapping[str, Any],
    radar: RadarFacts | None,
    vehicle: VehicleFacts | None,
    schedule: FineSchedule,
    now_ms: int,
) -> InfractionIssued | ViolationDismissed:
    """InfractionIssued (status issued or unidentified) or ViolationDismissed, with the reason."""
    detected_at_ms = int(message["detected_at_ms"])
    measured = int(message["measured_speed_ckmh"])
    retained = schedule.retained_speed_kmh(measured)

    def dismissed(reason: str, limit: int | None) -> ViolationDismissed:
        return ViolationDismissed(
            event_id=str(message["event_id"]),
            radar_id=str(message["radar_id"]),
            seq=int(message["seq"]),
            reason=reason,
            detected_at_ms=detected_at_ms,
            measured_speed_ckmh=measured,
            retained_speed_kmh=retained,
            speed_limit_kmh=limit,
            device_speed_limit_kmh=int(message["speed_limit_kmh"]),
            decided_at_ms=now_ms,
        )

    if radar is None:
        return dismissed(DismissalReason.UNKNOWN_RADAR, None)
    limit = radar.speed_limit_at(detected_at_ms)
    unfit = radar_unfit(radar, detected_at_ms)
    if unfit is not None:
        return dismissed(unfit, limit)
    excess = retained - limit
    if excess < 1:
        return dismissed(DismissalReason.NOT_OVER_LIMIT, limit)
    fine = schedule.fine(limit, excess)
    plate = str(message["plate"])
    identification = identify_owner(plate, vehicle, detected_at_ms)
    return InfractionIssued(
        infraction_id=infraction_id_for(str(message["event_id"])),
        event_id=str(message["event_id"]),
        radar_id=radar.radar_id,
        seq=int(message["seq"]),
        plate=plate,
        owner_id=identification.owner_id,
        status=identification.status,
        unidentified_reason=identification.unidentified_reason,
        detected_at_ms=detected_at_ms,
        direction=str(message["direction"]),
        measured_speed_ckmh=measured,
        retained_speed_kmh=retained,
        speed_limit_kmh=limit,
        device_speed_limit_kmh=int(message["speed_limit_kmh"]),
        excess_kmh=excess,
        fine_eur=fine.fine_eur,
        points=fine.points,
        fine_schedule=schedule.name,
        image_sha256=str(message["image_sha256"]),
        plate_confidence_pm=int(message["plate_confidence_pm"]),
        issued_at_ms=now_ms,
    )


#: The lifecycle: the status each transition leads to...
STATUS_AFTER: dict[type[Event], InfractionStatus] = {
    InfractionPaid: InfractionStatus.PAID,
    InfractionContested: InfractionStatus.CONTESTED,
    InfractionCancelled: InfractionStatus.CANCELLED,
    InfractionUpheld: InfractionStatus.ISSUED,
    InfractionIdentified: InfractionStatus.ISSUED,
}

#: ...and the statuses it leaves from. paid and cancelled are final.
ALLOWED_FROM: dict[type[Event], tuple[InfractionStatus, ...]] = {
    InfractionPaid: (InfractionStatus.ISSUED,),
    InfractionContested: (InfractionStatus.ISSUED,),
    InfractionCancelled: (InfractionStatus.ISSUED, InfractionStatus.CONTESTED, InfractionStatus.UNIDENTIFIED),
    InfractionUpheld: (InfractionStatus.CONTESTED,),
    InfractionIdentified: (InfractionStatus.UNIDENTIFIED,),
}


def evolve(state: InfractionState | None, event: Event) -> InfractionState:
    if isinstance(event, InfractionIssued):
        return InfractionState(
            infraction_id=event.infraction_id,
            status=InfractionStatus(event.status),
            detected_at_ms=event.detected_at_ms,
        )
    if state is None:
        raise ValueError(f"{event.type} before InfractionIssued")
    return replace(state, status=STATUS_AFTER[type(event)])


def transition(infraction_id: str, state: InfractionState | None, event: Event) -> list[Event]:
    """`event` if the lifecycle allows it from the current status; Conflict otherwise."""
    if state is None:
        raise NotFound(f"infraction {infraction_id} does not exist")
    allowed = ALLOWED_FROM[type(event)]
    if state.status not in allowed:
        raise Conflict(
            f"infraction {infraction_id} is {state.status}; {STATUS_AFTER[type(event)]} needs {' or '.join(allowed)}"
        )
    return [event]


def identify(
    infraction_id: str, state: InfractionState | None, plate: str, vehicle: VehicleFacts | None, now_ms: int
) -> list[Event]:
    """Charge an unidentified infraction to the owner of `plate` at detection time; never a guess."""
    if state is None:
        raise NotFound(f"infraction {infraction_id} does not exist")
    if vehicle is None:
        raise NotFound(f"vehicle {plate} is not registered")
    owner_id = vehicle.owner_at(state.detected_at_ms)
    if owner_id is None:
        raise Conflict(f"nobody owned {plate} when infraction {infraction_id} was detected")
    event = InfractionIdentified(infraction_id=infraction_id, plate=plate, owner_id=owner_id, at_ms=now_ms)
    return transition(infraction_id, state, event)
