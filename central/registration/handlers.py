"""Registration command handlers: load the owner or vehicle, decide (`domain`), append."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from speedledger.central.eventstore.port import EventStore
from speedledger.central.messages import Clock, Command
from speedledger.central.registration import domain
from speedledger.central.registration.aggregate import OWNER, VEHICLE
from speedledger.central.registration.commands import EraseOwner, RegisterOwner, RegisterVehicle, TransferOwnership
from speedledger.central.registration.personal_data import KeyVault, PersonalDataCipher


def register_owner(command: RegisterOwner, store: EventStore, vault: KeyVault, clock: Clock) -> str:
    owner_id = domain.new_owner_id(command)
    personal = domain.personal_data(command, clock())
    cipher = PersonalDataCipher(vault)
    OWNER.execute(
        store,
        owner_id,
        command,
        lambda owner: domain.register_owner(owner_id, owner, lambda: cipher.seal(owner_id, personal), clock()),
    )
    return owner_id


def erase_owner(command: EraseOwner, store: EventStore, vault: KeyVault, clock: Clock) -> None:
    owner, version = OWNER.load(store, command.owner_id)
    events = domain.erase_owner(command.owner_id, owner, clock())
    # Shred first: once the key is gone the data is unreadable everywhere, even if the append below
    # has to be retried; the event then records the erasure for the read models and the audit trail.
    vault.delete_key(command.owner_id)
    OWNER.append(store, command.owner_id, events, version, command)


def register_vehicle(command: RegisterVehicle, store: EventStore, clock: Clock) -> str:
    plate = domain.vehicle_plate(command.plate)
    owner = OWNER.state(store, command.owner_id)
    VEHICLE.execute(
        store, plate, command, lambda vehicle: domain.register_vehicle(command, plate, vehicle, owner, clock())
    )
    return plate


def transfer_ownership(command: TransferOwnership, store: EventStore) -> None:
    plate = domain.vehicle_plate(command.plate)
    new_owner = OWNER.state(store, command.owner_id)
    VEHICLE.execute(store, plate, command, lambda vehicle: domain.transfer(command, plate, vehicle, new_owner))


HANDLERS: dict[type[Command], Callable[..., Any]] = {
    RegisterOwner: register_owner,
    EraseOwner: erase_owner,
    RegisterVehicle: register_vehicle,
    TransferOwnership: transfer_ownership,
}
