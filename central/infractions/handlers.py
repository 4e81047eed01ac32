"""Infraction command handlers: the trusted violation feed and the lifecycle transitions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from speedledger.central.aggregates import command_metadata
from speedledger.central.errors import Conflict, Invalid, NotFound
from speedledger.central.eventstore.port import NO_STREAM, DuplicateEvent, EventStore, NewEvent, WrongExpectedVersion
from speedledger.central.infractions import domain
from speedledger.central.infractions.aggregate import INFRACTION
from speedledger.central.infractions.commands import (
    CancelInfraction,
    ContestInfraction,
    IdentifyInfraction,
    PayInfraction,
    RecordViolation,
    UpholdInfraction,
)
from speedledger.central.infractions.events import (
    InfractionCancelled,
    InfractionContested,
    InfractionIdentified,
    InfractionPaid,
    InfractionUpheld,
)
from speedledger.central.infractions.violations import SignatureRejected, verify_signature, violation_recorded
from speedledger.central.ingest.kinds import VIOLATION, SignedKind
from speedledger.central.messages import Clock, Command, Event
from speedledger.central.radars.lookup import load_radar
from speedledger.central.registration.lookup import load_vehicle, vehicle_plate
from speedledger.shared import violation


def record_violation(command: RecordViolation, store: EventStore, clock: Clock) -> str:
    received_at_ms = clock() if command.received_at_ms is None else command.received_at_ms
    return record_signed_message(
        store, dict(command.message), VIOLATION, violation_recorded, received_at_ms, command_metadata(command)
    )


def record_signed_message(
    store: EventStore,
    message: dict[str, Any],
    kind: SignedKind,
    record: Callable[[dict[str, Any], int, dict[str, str]], tuple[str, NewEvent]],
    received_at_ms: int,
    metadata: dict[str, str],
) -> str:
    """The trusted feed of a signed radar message (a violation, or a passage: `sections/handlers.py`):
    check it like the ingest does, append the event `record` builds; "accepted" or "duplicate"."""
    try:
        kind.validate(message)
    except violation.ViolationError as error:
        raise Invalid(f"malformed {kind.name}: {error}") from error
    radar = load_radar(store, message["radar_id"])
    if radar is None:
        raise NotFound(f"radar {message['radar_id']} is not registered")
    try:
        verify_signature(message, radar)
    except SignatureRejected as error:
        raise Invalid(str(error)) from error
    stream_id, event = record(message, received_at_ms, metadata)
    try:
        store.append(stream_id, [event], NO_STREAM)
    except (DuplicateEvent, WrongExpectedVersion) as error:
        recorded = store.read_stream(stream_id)
        if recorded and recorded[0].event_id == event.event_id:
            return "duplicate"
        if isinstance(error, DuplicateEvent):
            raise Conflict(f"event_id {event.event_id} was already recorded for another radar or seq") from error
        raise Conflict(f"seq {message['seq']} of radar {message['radar_id']} was used by another event_id") from error
    return "accepted"


def _transition(store: EventStore, command: Command, infraction_id: str, event: Event) -> None:
    INFRACTION.execute(
        store, infraction_id, command, lambda infraction: domain.transition(infraction_id, infraction, event)
    )


def pay_infraction(command: PayInfraction, store: EventStore, clock: Clock) -> None:
    paid = InfractionPaid(infraction_id=command.infraction_id, reference=command.reference, at_ms=clock())
    _transition(store, command, command.infraction_id, paid)


def contest_infraction(command: ContestInfraction, store: EventStore, clock: Clock) -> None:
    contested = InfractionContested(infraction_id=command.infraction_id, reason=command.reason, at_ms=clock())
    _transition(store, command, command.infraction_id, contested)


def cancel_infraction(command: CancelInfraction, store: EventStore, clock: Clock) -> None:
    cancelled = InfractionCancelled(infraction_id=command.infraction_id, reason=command.reason, at_ms=clock())
    _transition(store, command, command.infraction_id, cancelled)


def uphold_infraction(command: UpholdInfraction, store: EventStore, clock: Clock) -> None:
    upheld = InfractionUpheld(infraction_id=command.infraction_id, reason=command.reason, at_ms=clock())
    _transition(store, command, command.infraction_id, upheld)


def identify_infraction(command: IdentifyInfraction, store: EventStore, clock: Clock) -> str:
    plate = vehicle_plate(command.plate)
    vehicle = load_vehicle(store, plate)
    (identified,) = INFRACTION.execute(
        store,
        command.infraction_id,
        command,
        lambda infraction: domain.identify(command.infraction_id, infraction, plate, vehicle, clock()),
    )
    assert isinstance(identified, InfractionIdentified)
    return identified.owner_id


HANDLERS: dict[type[Command], Callable[..., Any]] = {
    RecordViolation: record_violation,
    PayInfraction: pay_infraction,
    ContestInfraction: contest_infraction,
    CancelInfraction: cancel_infraction,
    UpholdInfraction: uphold_infraction,
    IdentifyInfraction: identify_infraction,
}
