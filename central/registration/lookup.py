"""What other contexts may ask of the registration context.

- `load_vehicle`: a vehicle with its full ownership history, from the event store (strongly
  consistent: the process manager decides on it); `vehicle_cache` for many, batch after batch;
- `vehicle_plate`: a plate normalised and checked the way vehicles are registered;
- `owner_name`: an owner's name, or that it was erased, from the read model's sealed envelope opened
  with the owner's key (so an erasure shows everywhere at once).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from speedledger.central.aggregates import AggregateCache
from speedledger.central.eventstore.port import EventStore
from speedledger.central.registration.aggregate import VEHICLE
from speedledger.central.registration.domain import VehicleState, vehicle_plate
from speedledger.central.registration.personal_data import PersonalDataCipher
from speedledger.central.registration.projection import owners

__all__ = ["OwnerName", "VehicleState", "load_vehicle", "owner_name", "vehicle_cache", "vehicle_plate"]


def load_vehicle(store: EventStore, plate: str) -> VehicleState | None:
    """The vehicle (normalised plate) as of the last committed event, or None when not registered."""
    return VEHICLE.state(store, plate)


def vehicle_cache(store: EventStore) -> AggregateCache[VehicleState]:
    """Vehicles by plate kept between batches, each checked against its stream's version (`AggregateCache`)."""
    return AggregateCache(VEHICLE, store)


@dataclass(frozen=True)
class OwnerName:
    #: None once erased.
    name: str | None
    erased: bool


def owner_name(conn: Connection, owner_id: str, cipher: PersonalDataCipher) -> OwnerName | None:
    """The owner's name (opened with their key), or None when the read model does not know them."""
    row = conn.execute(select(owners.c.personal_data, owners.c.erased).where(owners.c.owner_id == owner_id)).first()
    if row is None:
        return None
    personal = cipher.open(owner_id, row.personal_data)
    return OwnerName(name=personal.name if personal else None, erased=bool(row.erased))
