"""The registration context's pure decisions and folds, without a store: owners, vehicles, ownership over time."""

from __future__ import annotations

import dataclasses

import pytest

from speedledger.central.errors import Conflict, Invalid, NotFound
from speedledger.central.registration import domain
from speedledger.central.registration.commands import RegisterOwner, RegisterVehicle, TransferOwnership
from speedledger.central.registration.domain import Ownership, OwnerState, VehicleState
from speedledger.central.registration.events import (
    OwnerErased,
    OwnerRegistered,
    OwnershipTransferred,
    VehicleRegistered,
)
from speedledger.central.registration.personal_data import PersonalData

#: 2025-11-28T08:00:00Z
T = 1_764_316_800_000
ALICE, BOB = "alice-id", "bob-id"
ACTIVE, ERASED = OwnerState(ALICE, erased=False), OwnerState(ALICE, erased=True)


def owner_command(**fields: object) -> RegisterOwner:
    command = RegisterOwner(name=" Alice Martin ", birth_date="1980-04-01", email="alice@example.fr")
    return dataclasses.replace(command, **fields)


def vehicle_command(**fields: object) -> RegisterVehicle:
    command = RegisterVehicle(plate="gz-123-qk", brand="Renault", model="Clio", fiscal_power=5, owner_id=ALICE)
    return dataclasses.replace(command, **fields)


def test_owner_fold_registered_then_erased() -> None:
    (registered,) = domain.register_owner(ALICE, None, lambda: "v1.sealed", T)
    assert registered == OwnerRegistered(owner_id=ALICE, personal_data="v1.sealed", registered_at_ms=T)
    owner = domain.evolve_owner(None, registered)
    assert owner == ACTIVE
    (erased,) = domain.erase_owner(ALICE, owner, T + 1)
    assert domain.evolve_owner(owner, erased) == ERASED


def test_owner_decisions_refuse_what_cannot_happen() -> None:
    with pytest.raises(Conflict, match="already exists"):
        domain.register_owner(ALICE, ACTIVE, lambda: pytest.fail("sealed for an existing owner"), T)
    with pytest.raises(NotFound):
        domain.erase_owner(ALICE, None, T)
    with pytest.raises(Conflict, match="already erased"):
        domain.erase_owner(ALICE, ERASED, T)
    with pytest.raises(ValueError, match="OwnerErased in an owner stream"):
        domain.evolve_owner(None, OwnerErased(owner_id=ALICE, erased_at_ms=T))


def test_personal_data_is_checked_and_trimmed() -> None:
    assert domain.personal_data(owner_command(), T) == PersonalData("Alice Martin", "1980-04-01", "alice@example.fr")


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"name": ""}, "name"),
        ({"birth_date": "01/04/1980"}, "ISO date"),
        ({"birth_date": "1899-12-31"}, "out of range"),
        ({"birth_date": "2025-11-29"}, "out of range"),  # tomorrow
        ({"email": "alice"}, "email"),
    ],
)
def test_personal_data_refuses(fields: dict[str, object], error: str) -> None:
    with pytest.raises(Invalid, match=error):
        domain.personal_data(owner_command(**fields), T)


def test_owner_id_is_a_given_uuid_or_a_new_one() -> None:
    given = "0b7f7e5c-3c1e-4f57-8d0a-2c35a1b3f9e4"
    assert domain.new_owner_id(owner_command(owner_id=given.upper())) == given
    assert domain.new_owner_id(owner_command()) != domain.new_owner_id(owner_command())
    with pytest.raises(Invalid, match="UUID"):
        domain.new_owner_id(owner_command(owner_id="alice"))


def test_register_vehicle_for_an_active_owner() -> None:
    plate = domain.vehicle_plate("gz-123-qk")
    (registered,) = domain.register_vehicle(vehicle_command(registered_at_ms=5), plate, None, ACTIVE, T)
    assert registered == VehicleRegistered("GZ123QK", "Renault", "Clio", 5, ALICE, registered_at_ms=5)
    (now,) = domain.register_vehicle(vehicle_command(), plate, None, ACTIVE, T)
    assert isinstance(now, VehicleRegistered) and now.registered_at_ms == T


@pytest.mark.parametrize(
    ("fields", "owner", "error"),
    [
        ({"brand": " "}, ACTIVE, Invalid),
        ({"fiscal_power": 0}, ACTIVE, Invalid),
        ({"fiscal_power": 2.5}, ACTIVE, Invalid),
        ({"registered_at_ms": -1}, ACTIVE, Invalid),
        ({}, None, NotFound),
        ({}, ERASED, Conflict),
    ],
)
def test_register_vehicle_refuses(fields: dict[str, object], owner: OwnerState | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        domain.register_vehicle(vehicle_command(**fields), "GZ123QK", None, owner, T)


def test_a_plate_is_registered_once() -> None:
    vehicle = VehicleState("GZ123QK", (Ownership(ALICE, T),))
    with pytest.raises(Conflict, match="already registered"):
        domain.register_vehicle(vehicle_command(), "GZ123QK", vehicle, ACTIVE, T)


@pytest.mark.parametrize("raw", ["", "-- --", "A" * 13])
def test_vehicle_plate_refuses_what_normalises_to_nothing_or_too_much(raw: str) -> None:
    with pytest.raises(Invalid, match="plate"):
        domain.vehicle_plate(raw)


def test_ownership_periods_count_from_their_start() -> None:
    vehicle = domain.evolve_vehicle(None, VehicleRegistered("GZ123QK", "Renault", "Clio", 5, ALICE, T))
    (sale,) = domain.transfer(
        TransferOwnership(plate="GZ123QK", owner_id=BOB, effective_at_ms=T + 10),
        "GZ123QK",
        vehicle,
        OwnerState(BOB, False),
    )
    assert sale == OwnershipTransferred("GZ123QK", ALICE, BOB, T + 10)
    sold = domain.evolve_vehicle(vehicle, sale)
    assert [sold.owner_at(ms) for ms in (T - 1, T, T + 9, T + 10, T + 99)] == [None, ALICE, ALICE, BOB, BOB]
    assert sold.current == Ownership(BOB, T + 10)


@pytest.mark.parametrize(
    ("owner_id", "effective_at_ms", "new_owner", "error", "match"),
    [
        (BOB, T, OwnerState(BOB, False), Conflict, "after the current ownership's start"),
        (ALICE, T + 1, ACTIVE, Conflict, "already owns"),
        (BOB, T + 1, None, NotFound, "does not exist"),
        (BOB, T + 1, OwnerState(BOB, True), Conflict, "erased"),
        (BOB, -5, OwnerState(BOB, False), Invalid, "effective_at_ms"),
    ],
)
def test_transfer_refuses(
    owner_id: str, effective_at_ms: int, new_owner: OwnerState | None, error: type[Exception], match: str
) -> None:
    vehicle = VehicleState("GZ123QK", (Ownership(ALICE, T),))
    command = TransferOwnership(plate="GZ123QK", owner_id=owner_id, effective_at_ms=effective_at_ms)
    with pytest.raises(error, match=match):
        domain.transfer(command, "GZ123QK", vehicle, new_owner)


def test_transfer_of_an_unknown_vehicle() -> None:
    command = TransferOwnership(plate="GZ123QK", owner_id=BOB, effective_at_ms=T)
    with pytest.raises(NotFound, match="not registered"):
        domain.transfer(command, "GZ123QK", None, OwnerState(BOB, False))
