"""Events of the registration context: `owner-{owner_id}` and `vehicle-{plate}` streams.

Owner personal data never appears in clear: `personal_data` is an AES-GCM envelope sealed with
the owner's own data key, which lives outside the event log and is deleted on erasure.
"""

from __future__ import annotations

from dataclasses import dataclass

from speedledger.central.messages import Event, EventTypes


@dataclass(frozen=True)
class OwnerRegistered(Event, type_name="OwnerRegistered"):
    owner_id: str
    personal_data: str
    registered_at_ms: int


@dataclass(frozen=True)
class OwnerErased(Event, type_name="OwnerErased"):
    owner_id: str
    erased_at_ms: int


@dataclass(frozen=True)
class VehicleRegistered(Event, type_name="VehicleRegistered"):
    plate: str
    brand: str
    model: str
    fiscal_power: int
    owner_id: str
    registered_at_ms: int


@dataclass(frozen=True)
class OwnershipTransferred(Event, type_name="OwnershipTransferred"):
    plate: str
    previous_owner_id: str
    owner_id: str
    effective_at_ms: int


REGISTRATION_EVENTS = EventTypes([OwnerRegistered, OwnerErased, VehicleRegistered, OwnershipTransferred])


def owner_stream(owner_id: str) -> str:
    return f"owner-{owner_id}"


def vehicle_stream(plate: str) -> str:
    return f"vehicle-{plate}"
