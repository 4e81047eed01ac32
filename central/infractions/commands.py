"""Commands of the infractions context. Results of `MessageBus.handle` are given per command.

Lifecycle (docs/domain.md): issued -> paid | contested | cancelled; contested -> cancelled | issued
(upheld); unidentified -> issued (identified) | cancelled. paid and cancelled are final. A refused
transition is a Conflict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from speedledger.central.messages import Command


@dataclass(frozen=True)
class RecordViolation(Command):
    """Trusted feed of a signed violation message (tests, CLI, demo); MQTT ingest appends the same event.

    The radar must be known and the message must verify with one of its non-revoked keys.
    `received_at_ms` defaults to now. Result: "accepted" or "duplicate" (same event_id again).
    Conflict when the radar's `seq` was already used by another event_id; NotFound for an unknown
    radar; Invalid for a malformed message or a bad signature.
    """

    message: Mapping[str, Any]
    received_at_ms: int | None = None


@dataclass(frozen=True)
class PayInfraction(Command):
    """issued -> paid. Result: None."""

    infraction_id: str
    reference: str = ""


@dataclass(frozen=True)
class ContestInfraction(Command):
    """issued -> contested. Result: None."""

    infraction_id: str
    reason: str = ""


@dataclass(frozen=True)
class CancelInfraction(Command):
    """issued | contested | unidentified -> cancelled. Result: None."""

    infraction_id: str
    reason: str = ""


@dataclass(frozen=True)
class UpholdInfraction(Command):
    """contested -> issued (the contest is rejected). Result: None."""

    infraction_id: str
    reason: str = ""


@dataclass(frozen=True)
class IdentifyInfraction(Command):
    """unidentified -> issued: an agent read the plate on the evidence image. The owner is the
    vehicle's owner at detection time. Result: the owner_id. Invalid for an empty plate; NotFound
    for an unknown plate; Conflict when nobody owned it at detection time.
    """

    infraction_id: str
    plate: str
