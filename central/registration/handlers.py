"""Registration command handlers, and the strongly consistent vehicle lookup of the process manager."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from speedledger.central import aggregates
from speedledger.central.eventstore.port import EventStore
from speedledger.central.messages import Clock, Command
from speedledger.central.registration import domain
from speedledger.central.registration.commands import EraseOwner, RegisterOwner, RegisterVehicle, TransferOwnership
from speedledger.central.registration.domain import OwnerState, VehicleState
from speedledger.central.registration.events import REGISTRATION_EVENTS, owner_stream, vehicle_stream
from speedledger.central.registration.personal_data import KeyVault, PersonalDataCipher


def load_owner(store: EventStore, owner_id: str) -> OwnerState | None:
    state, _ = aggregates.load(store, owner_stream(owner_id), REGISTRATION_EVENTS, domain.evolve_owner)
    return state


def load_vehicle(store: EventStore, plate: str) -> VehicleState | None:
    """The vehicle with its full ownership history as of the last committed event, or None."""
    state, _ = aggregates.load(store, vehicle_stream(plate), REGISTRATION_EVENTS, domain.evolve_vehicle)
    return state


def register_owner(command: RegisterOwner, store: EventStore, vault: KeyVault, clock: Clock) -> str:
    owner_id = domain.new_owner_id(command)
    personal = domain.personal_data(command, clock())
    cipher = PersonalDataCipher(vault)
    aggregates.execute(
        store,
        owner_stream(owner_id),
        REGISTRATION_EVENTS,
        domain.evolve_owner,
        command,
        lambda owner: domain.register_owner(owner_id, owner, lambda: cipher.seal(owner_id, personal), clock()),
    )
    return owner_id


def erase_owner(command: EraseOwner, store: EventStore, vault: KeyVault, clock: Clock) -> None:
    stream_id = owner_stream(command.owner_id)
    owner, version = aggregates.load(store, stream_id, REGISTRATION_EVENTS, domain.evolve_owner)
    events = domain.erase_owner(command.owner_id, owner, clock())
    # Shred first: once the key is gone the data is unreadable everywhere, even if the append below
    # has to be retried; the event then records the erasure for the read models and the audit trail.
    vault.delete_key(command.owner_id)
    aggregates.append(store, stream_id, events, version, command)


def register_vehicle(command: RegisterVehicle, store: EventStore, clock: Clock) -> str:
    plate = domain.vehicle_plate(command.plate)
    owner = load_owner(store, command.owner_id)
    aggregates.execute(
        store,
        vehicle_stream(plate),
        REGISTRATION_EVENTS,
        domain.evolve_vehicle,
        command,
        lambda vehicle: domain.register_vehicle(command, plate, vehicle, owner, clock()),
    )
    return plate


def transfer_ownership(command: TransferOwnership, store: EventStore) -> None:
    plate = domain.vehicle_plate(command.plate)
    new_owner = load_owner(store, command.owner_id)
    aggregates.execute(
        store,
        vehicle_stream(plate),
        REGISTRATION_EVENTS,
        domain.evolve_vehicle,
        command,
        lambda vehicle: domain.transfer(command, plate, vehicle, new_owner),
    )


HANDLERS: dict[type[Command], Callable[..., Any]] = {
    RegisterOwner: register_owner,
    EraseOwner: erase_owner,
    RegisterVehicle: register_vehicle,
    TransferOwnership: transfer_ownership,
}
