"""Infractions read model: one row an infraction with its current status, and its status history."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table

from speedledger.central.eventstore.port import RecordedEvent
from speedledger.central.infractions.domain import STATUS_AFTER
from speedledger.central.infractions.events import (
    INFRACTION_EVENTS,
    InfractionCancelled,
    InfractionContested,
    InfractionIdentified,
    InfractionIssued,
    InfractionPaid,
    InfractionUpheld,
    ViolationDismissed,
    ViolationRecorded,
)
from speedledger.central.messages import Event
from speedledger.central.projections.readmodel import TableProjection, Writes

metadata = MetaData()

infractions = Table(
    "infractions",
    metadata,
    Column("infraction_id", String(36), primary_key=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("radar_id", String(32), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("plate", String(12), nullable=False),
    Column("owner_id", String(64)),
    Column("status", String(16), nullable=False),
    Column("unidentified_reason", String(32)),
    Column("detected_at_ms", BigInteger, nullable=False),
    Column("direction", String(16), nullable=False),
    Column("measured_speed_ckmh", Integer, nullable=False),
    Column("retained_speed_kmh", Integer, nullable=False),
    Column("speed_limit_kmh", Integer, nullable=False),
    Column("device_speed_limit_kmh", Integer, nullable=False),
    Column("limit_mismatch", Boolean, nullable=False),
    Column("excess_kmh", Integer, nullable=False),
    Column("fine_eur", Integer, nullable=False),
    Column("points", Integer, nullable=False),
    Column("fine_schedule", String(64), nullable=False),
    Column("image_sha256", String(64), nullable=False),
    Column("plate_confidence_pm", Integer, nullable=False),
    Column("issued_at_ms", BigInteger, nullable=False),
    Column("updated_at_ms", BigInteger, nullable=False),
    # Section control (CONTRACT §6); kind "spot" leaves the rest null.
    Column("kind", String(16), nullable=False, server_default="spot"),
    Column("section_id", String(32)),
    Column("entry_event_id", String(36)),
    Column("exit_event_id", String(36)),
    Column("average_speed_kmh", Integer),
    Column("entry_message", JSON),
    Column("exit_message", JSON),
    Index("ix_infractions_detected", "detected_at_ms", "infraction_id"),
    Index("ix_infractions_plate", "plate", "detected_at_ms"),
    Index("ix_infractions_owner", "owner_id", "detected_at_ms"),
    Index("ix_infractions_radar", "radar_id", "detected_at_ms"),
    Index("ix_infractions_status", "status", "detected_at_ms"),
    # A radar's infractions in one status (its contested ones): a range read instead of the radar's
    # every row (docs/scaling.md, "Queries at 1M infractions").
    Index("ix_infractions_radar_status", "radar_id", "status", "detected_at_ms"),
    Index("ix_infractions_kind", "kind", "detected_at_ms"),
    # A section infraction's exit is its `event_id` (unique); its entry is found by this one.
    Index("ix_infractions_entry", "entry_event_id"),
)

#: Every verified violation with the device's original signed message, and what became of it.
violations = Table(
    "violations",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("radar_id", String(32), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("detected_at_ms", BigInteger, nullable=False),
    Column("received_at_ms", BigInteger, nullable=False),
    Column("message", JSON, nullable=False),
    #: "pending" until the process manager decides, then "infraction" or "dismissed".
    Column("outcome", String(16), nullable=False),
    Column("infraction_id", String(36)),
    Column("dismissal_reason", String(32)),
    Index("ix_violations_radar", "radar_id", "seq"),
)

#: Section pairs over the limit dismissed (`ViolationDismissed` with a `section_id`): the exit passage's
#: ids and times, as `violations` has a dismissed violation's (passages are not violations: no message here).
section_dismissals = Table(
    "section_dismissals",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("section_id", String(32), nullable=False),
    Column("radar_id", String(32), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("detected_at_ms", BigInteger, nullable=False),
    Column("received_at_ms", BigInteger, nullable=False),
    Column("reason", String(32), nullable=False),
    Index("ix_section_dismissals_detected", "detected_at_ms", "event_id"),
)

infraction_history = Table(
    "infraction_history",
    metadata,
    Column("infraction_id", String(36), primary_key=True),
    Column("position", BigInteger, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("at_ms", BigInteger, nullable=False),
)


class InfractionsProjection(TableProjection):
    name = "infractions"
    event_types = INFRACTION_EVENTS

    def __init__(self) -> None:
        super().__init__([infractions, violations, section_dismissals, infraction_history])

    def handle(self, writes: Writes, event: Event, recorded: RecordedEvent) -> None:
        actor = str(recorded.metadata.get("actor", "system"))
        match event:
            case ViolationRecorded():
                writes.insert(
                    "violations",
                    event_id=event.message["event_id"],
                    radar_id=event.message["radar_id"],
                    seq=event.message["seq"],
                    key_id=event.key_id,
                    detected_at_ms=event.message["detected_at_ms"],
                    received_at_ms=event.received_at_ms,
                    message=dict(event.message),
                    outcome="pending",
                    # Given, so that the decision's update of them goes into this row when both are in one batch.
                    infraction_id=None,
                    dismissal_reason=None,
                )
            case ViolationDismissed(section_id=None):
                # Also a section pair dismissed before the event carried its section (it names the exit
                # radar alone, which may end several sections): no violation row, so nothing is written
                # (docs/sections.md, "What an operator sees").
                writes.update(
                    "violations",
                    {"event_id": event.event_id},
                    outcome="dismissed",
                    infraction_id=None,
                    dismissal_reason=event.reason,
                )
            case ViolationDismissed():
                writes.insert(
                    "section_dismissals",
                    event_id=event.event_id,
                    section_id=event.section_id,
                    radar_id=event.radar_id,
                    seq=event.seq,
                    detected_at_ms=event.detected_at_ms,
                    received_at_ms=event.received_at_ms,
                    reason=event.reason,
                )
            case InfractionIssued():
                writes.insert(
                    "infractions",
                    **event.data(),
                    limit_mismatch=event.device_speed_limit_kmh != event.speed_limit_kmh,
                    updated_at_ms=event.issued_at_ms,
                )
                writes.update(  # the same columns as a dismissal's: one executemany for a batch's decisions
                    "violations",
                    {"event_id": event.event_id},
                    outcome="infraction",
                    infraction_id=event.infraction_id,
                    dismissal_reason=None,
                )
                writes.insert(
                    "infraction_history",
                    infraction_id=event.infraction_id,
                    position=recorded.position,
                    status=event.status,
                    reason=event.unidentified_reason or "",
                    actor=actor,
                    at_ms=event.issued_at_ms,
                )
            case (
                InfractionPaid()
                | InfractionContested()
                | InfractionCancelled()
                | InfractionUpheld()
                | InfractionIdentified()
            ):
                status = STATUS_AFTER[type(event)]
                changes: dict[str, object] = {"status": status, "updated_at_ms": event.at_ms}
                if isinstance(event, InfractionIdentified):
                    reason = f"plate read as {event.plate}"
                    changes |= {"plate": event.plate, "owner_id": event.owner_id, "unidentified_reason": None}
                else:
                    reason = event.reference if isinstance(event, InfractionPaid) else event.reason
                writes.update("infractions", {"infraction_id": event.infraction_id}, **changes)
                writes.insert(
                    "infraction_history",
                    infraction_id=event.infraction_id,
                    position=recorded.position,
                    status=status,
                    reason=reason,
                    actor=actor,
                    at_ms=event.at_ms,
                )
