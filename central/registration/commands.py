"""Commands of the registration context. Results of `MessageBus.handle` are given per command."""

from __future__ import annotations

from dataclasses import dataclass

from speedledger.central.messages import Command


@dataclass(frozen=True)
class RegisterOwner(Command):
    """Register an owner. `birth_date` is ISO `YYYY-MM-DD`.

    `owner_id` may be given (a UUID) to make seeding idempotent; otherwise a new UUID is chosen.
    Result: the owner_id. Conflict when that owner_id exists; Invalid for bad personal data.
    """

    name: str
    birth_date: str
    email: str
    owner_id: str | None = None


@dataclass(frozen=True)
class EraseOwner(Command):
    """Erase an owner's personal data for ever (crypto-shredding): the owner, their vehicles'
    history and infractions stay, with no name, birth date or e-mail. Result: None.
    NotFound for an unknown owner, Conflict when already erased.
    """

    owner_id: str


@dataclass(frozen=True)
class RegisterVehicle(Command):
    """Register a vehicle owned by `owner_id` from `registered_at_ms` (default now).

    The plate is normalised (CONTRACT §3) and must be a French SIV plate (AA-123-AA, the format the
    radars read) unless `foreign`. Result: the normalised plate. Conflict when the plate is
    registered; NotFound for an unknown owner; Conflict for an erased owner; Invalid for bad fields.
    """

    plate: str
    brand: str
    model: str
    fiscal_power: int
    owner_id: str
    registered_at_ms: int | None = None
    #: A foreign plate: any 1 to 12 letters and digits, no national format check.
    foreign: bool = False


@dataclass(frozen=True)
class TransferOwnership(Command):
    """Transfer a vehicle to `owner_id` from `effective_at_ms` on; must be later than the current
    owner's start. Result: None. NotFound for an unknown plate or owner; Conflict when the new owner
    is the current one or is erased, or the time is not after the current ownership's start.
    """

    plate: str
    owner_id: str
    effective_at_ms: int
