"""Owner and vehicle decisions (pure). Personal data arrives here already sealed by the handler."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from speedledger.central.errors import Conflict, Invalid, NotFound
from speedledger.central.messages import Event
from speedledger.central.registration.commands import RegisterOwner, RegisterVehicle, TransferOwnership
from speedledger.central.registration.events import (
    OwnerErased,
    OwnerRegistered,
    OwnershipTransferred,
    VehicleRegistered,
)
from speedledger.central.registration.personal_data import PersonalData
from speedledger.shared.plates import is_french_siv, normalise

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_PLATE = 12
MAX_FISCAL_POWER = 200


@dataclass(frozen=True)
class OwnerState:
    owner_id: str
    erased: bool


@dataclass(frozen=True)
class Ownership:
    owner_id: str
    from_ms: int


@dataclass(frozen=True)
class VehicleState:
    plate: str
    ownerships: tuple[Ownership, ...]

    @property
    def current(self) -> Ownership:
        return self.ownerships[-1]

    def owner_at(self, at_ms: int) -> str | None:
        """Who owned the vehicle at `at_ms`; None before its registration (never a guess)."""
        owner = None
        for ownership in self.ownerships:
            if ownership.from_ms > at_ms:
                break
            owner = ownership.owner_id
        return owner


def evolve_owner(state: OwnerState | None, event: Event) -> OwnerState:
    match event:
        case OwnerRegistered():
            return OwnerState(owner_id=event.owner_id, erased=False)
        case OwnerErased() if state is not None:
            return replace(state, erased=True)
    raise ValueError(f"unexpected {event.type} in an owner stream")


def evolve_vehicle(state: VehicleState | None, event: Event) -> VehicleState:
    match event:
        case VehicleRegistered():
            return VehicleState(plate=event.plate, ownerships=(Ownership(event.owner_id, event.registered_at_ms),))
        case OwnershipTransferred() if state is not None:
            return replace(state, ownerships=(*state.ownerships, Ownership(event.owner_id, event.effective_at_ms)))
    raise ValueError(f"unexpected {event.type} in a vehicle stream")


def new_owner_id(command: RegisterOwner) -> str:
    if command.owner_id is None:
        return str(uuid.uuid4())
    try:
        return str(uuid.UUID(command.owner_id))
    except ValueError as error:
        raise Invalid("owner_id must be a UUID") from error


def personal_data(command: RegisterOwner, now_ms: int) -> PersonalData:
    name = command.name.strip()
    if not 1 <= len(name) <= 200:
        raise Invalid("name must have 1 to 200 characters")
    try:
        born = date.fromisoformat(command.birth_date)
    except (TypeError, ValueError) as error:
        raise Invalid("birth_date must be an ISO date YYYY-MM-DD") from error
    today = datetime.fromtimestamp(now_ms / 1000, UTC).date()
    if not date(1900, 1, 1) <= born <= today:
        raise Invalid("birth_date is out of range")
    email = command.email.strip()
    if len(email) > 320 or not EMAIL.fullmatch(email):
        raise Invalid("email is not a valid address")
    return PersonalData(name=name, birth_date=born.isoformat(), email=email)


def register_owner(owner_id: str, state: OwnerState | None, seal: Callable[[], str], now_ms: int) -> list[Event]:
    """`seal` encrypts the personal data; called only for a new owner, so no existing key is touched."""
    if state is not None:
        raise Conflict(f"owner {owner_id} already exists")
    return [OwnerRegistered(owner_id=owner_id, personal_data=seal(), registered_at_ms=now_ms)]


def erase_owner(owner_id: str, state: OwnerState | None, now_ms: int) -> list[Event]:
    if state is None:
        raise NotFound(f"owner {owner_id} does not exist")
    if state.erased:
        raise Conflict(f"owner {owner_id} is already erased")
    return [OwnerErased(owner_id=owner_id, erased_at_ms=now_ms)]


def require_active_owner(owner_id: str, owner: OwnerState | None) -> None:
    if owner is None:
        raise NotFound(f"owner {owner_id} does not exist")
    if owner.erased:
        raise Conflict(f"owner {owner_id} is erased and cannot hold vehicles")


def vehicle_plate(raw: str) -> str:
    plate = normalise(raw)
    if not 1 <= len(plate) <= MAX_PLATE:
        raise Invalid(f"plate must have 1 to {MAX_PLATE} letters or digits once normalised")
    return plate


def register_vehicle(
    command: RegisterVehicle, plate: str, state: VehicleState | None, owner: OwnerState | None, now_ms: int
) -> list[Event]:
    if state is not None:
        raise Conflict(f"vehicle {plate} is already registered")
    brand, model = command.brand.strip(), command.model.strip()
    if not (1 <= len(brand) <= 100 and 1 <= len(model) <= 100):
        raise Invalid("brand and model must have 1 to 100 characters")
    if isinstance(command.fiscal_power, bool) or not isinstance(command.fiscal_power, int):
        raise Invalid("fiscal_power must be an integer")
    if not 1 <= command.fiscal_power <= MAX_FISCAL_POWER:
        raise Invalid(f"fiscal_power must be between 1 and {MAX_FISCAL_POWER}")
    require_active_owner(command.owner_id, owner)
    if not (command.foreign or is_french_siv(plate)):
        raise Invalid(
            f"plate {plate} is not a French SIV plate (AA-123-AA); register a foreign plate with foreign=true"
        )
    registered_at_ms = now_ms
    if command.registered_at_ms is not None:
        registered_at_ms = _instant(command.registered_at_ms, "registered_at_ms")
    return [
        VehicleRegistered(
            plate=plate,
            brand=brand,
            model=model,
            fiscal_power=command.fiscal_power,
            owner_id=command.owner_id,
            registered_at_ms=registered_at_ms,
        )
    ]


def transfer(
    command: TransferOwnership, plate: str, state: VehicleState | None, new_owner: OwnerState | None
) -> list[Event]:
    if state is None:
        raise NotFound(f"vehicle {plate} is not registered")
    require_active_owner(command.owner_id, new_owner)
    _instant(command.effective_at_ms, "effective_at_ms")
    current = state.current
    if command.owner_id == current.owner_id:
        raise Conflict(f"owner {command.owner_id} already owns {plate}")
    if command.effective_at_ms <= current.from_ms:
        raise Conflict("effective_at_ms must be after the current ownership's start; history is never rewritten")
    return [
        OwnershipTransferred(
            plate=plate,
            previous_owner_id=current.owner_id,
            owner_id=command.owner_id,
            effective_at_ms=command.effective_at_ms,
        )
    ]


def _instant(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Invalid(f"{name} must be a Unix time in ms (a non-negative integer)")
    return value
