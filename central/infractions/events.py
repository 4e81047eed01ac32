"""Events of the infractions context.

- `ViolationRecorded` in `violation-{radar_id}-{seq}`: the verified, signed device message as received.
- `InfractionIssued` and the lifecycle events in `infraction-{infraction_id}`.
- `ViolationDismissed` in `dismissal-{event_id}`: a verified violation that gives no infraction, and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from speedledger.central.messages import Event, EventTypes


@dataclass(frozen=True)
class ViolationRecorded(Event, type_name="ViolationRecorded"):
    message: Mapping[str, Any]
    received_at_ms: int
    key_id: str


@dataclass(frozen=True)
class InfractionIssued(Event, type_name="InfractionIssued"):
    infraction_id: str
    event_id: str
    radar_id: str
    seq: int
    plate: str
    owner_id: str | None
    #: An `InfractionStatus`: issued, or unidentified when the plate is unread or not registered at detection time.
    status: str
    #: None, "plate_unread", "plate_unknown" or "no_owner_at_detection".
    unidentified_reason: str | None
    detected_at_ms: int
    direction: str
    measured_speed_ckmh: int
    retained_speed_kmh: int
    #: Central's limit at detected_at_ms: the one that governs.
    speed_limit_kmh: int
    device_speed_limit_kmh: int
    excess_kmh: int
    fine_eur: int
    points: int
    fine_schedule: str
    image_sha256: str
    plate_confidence_pm: int
    issued_at_ms: int
    #: An `InfractionKind`. A section infraction (CONTRACT §6) is charged at its exit passage: `event_id`,
    #: `radar_id`, `seq`, `detected_at_ms`, `direction` and `image_sha256` are the exit's, the measured
    #: speed is the average speed, both limits are the section's; it keeps both signed passages.
    kind: str = "spot"
    section_id: str | None = None
    entry_event_id: str | None = None
    exit_event_id: str | None = None
    average_speed_kmh: int | None = None
    entry_message: Mapping[str, Any] | None = None
    exit_message: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ViolationDismissed(Event, type_name="ViolationDismissed"):
    event_id: str
    radar_id: str
    seq: int
    #: "not_over_limit", "unknown_radar", "radar_inactive" or "radar_not_verified".
    reason: str
    detected_at_ms: int
    measured_speed_ckmh: int
    retained_speed_kmh: int
    speed_limit_kmh: int | None
    device_speed_limit_kmh: int
    decided_at_ms: int
    #: A section pair's dismissal (its `event_id` is the exit passage's): the section, and when central
    #: received the exit passage. None for a spot violation's (its receipt is on its `ViolationRecorded`).
    section_id: str | None = None
    received_at_ms: int | None = None


@dataclass(frozen=True)
class InfractionPaid(Event, type_name="InfractionPaid"):
    infraction_id: str
    reference: str
    at_ms: int


@dataclass(frozen=True)
class InfractionContested(Event, type_name="InfractionContested"):
    infraction_id: str
    reason: str
    at_ms: int


@dataclass(frozen=True)
class InfractionCancelled(Event, type_name="InfractionCancelled"):
    infraction_id: str
    reason: str
    at_ms: int


@dataclass(frozen=True)
class InfractionUpheld(Event, type_name="InfractionUpheld"):
    infraction_id: str
    reason: str
    at_ms: int


@dataclass(frozen=True)
class InfractionIdentified(Event, type_name="InfractionIdentified"):
    """An unidentified infraction charged to `owner_id` after an agent read `plate` on the evidence."""

    infraction_id: str
    plate: str
    owner_id: str
    at_ms: int


INFRACTION_EVENTS = EventTypes(
    [
        ViolationRecorded,
        InfractionIssued,
        ViolationDismissed,
        InfractionPaid,
        InfractionContested,
        InfractionCancelled,
        InfractionUpheld,
        InfractionIdentified,
    ]
)


def violation_stream(radar_id: str, seq: int) -> str:
    return f"violation-{radar_id}-{seq}"


def infraction_stream(infraction_id: str) -> str:
    return f"infraction-{infraction_id}"


def dismissal_stream(event_id: str) -> str:
    return f"dismissal-{event_id}"
