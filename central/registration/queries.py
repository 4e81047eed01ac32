"""Read side of the registration context: owners, vehicles, and who owned a plate at a given time."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import Connection, select

from speedledger.central.registration.personal_data import PersonalDataCipher
from speedledger.central.registration.projection import owners, vehicle_ownerships, vehicles
from speedledger.shared.plates import normalise


class VehicleSummary(BaseModel):
    plate: str
    brand: str
    model: str
    fiscal_power: int


class OwnerView(BaseModel):
    owner_id: str
    #: None once the owner's personal data is erased.
    name: str | None
    birth_date: str | None
    email: str | None
    erased: bool
    registered_at_ms: int
    erased_at_ms: int | None = None
    #: Vehicles the owner holds now.
    vehicles: list[VehicleSummary]


class OwnershipPeriod(BaseModel):
    owner_id: str
    from_ms: int
    #: None for the current owner.
    to_ms: int | None = None


class VehicleView(BaseModel):
    plate: str
    brand: str
    model: str
    fiscal_power: int
    owner_id: str
    registered_at_ms: int
    ownership_history: list[OwnershipPeriod]


def get_owner(conn: Connection, owner_id: str, cipher: PersonalDataCipher) -> OwnerView | None:
    """The owner, personal data opened with their key (None once erased), with the vehicles held now."""
    row = conn.execute(select(owners).where(owners.c.owner_id == owner_id)).mappings().first()
    if row is None:
        return None
    held = conn.execute(
        select(vehicles.c.plate, vehicles.c.brand, vehicles.c.model, vehicles.c.fiscal_power)
        .where(vehicles.c.owner_id == owner_id)
        .order_by(vehicles.c.plate)
    ).mappings()
    personal = cipher.open(owner_id, row["personal_data"])
    return OwnerView(
        owner_id=owner_id,
        name=personal.name if personal else None,
        birth_date=personal.birth_date if personal else None,
        email=personal.email if personal else None,
        erased=row["erased"],
        registered_at_ms=row["registered_at_ms"],
        erased_at_ms=row["erased_at_ms"],
        vehicles=[VehicleSummary.model_validate(dict(vehicle)) for vehicle in held],
    )


def get_vehicle(conn: Connection, plate: str) -> VehicleView | None:
    """The vehicle by plate (normalised here, so `ab-123-cd` finds `AB123CD`), with its ownership history."""
    plate = normalise(plate)
    row = conn.execute(select(vehicles).where(vehicles.c.plate == plate)).mappings().first()
    if row is None:
        return None
    history = conn.execute(
        select(vehicle_ownerships.c.owner_id, vehicle_ownerships.c.from_ms, vehicle_ownerships.c.to_ms)
        .where(vehicle_ownerships.c.plate == plate)
        .order_by(vehicle_ownerships.c.from_ms)
    ).mappings()
    return VehicleView.model_validate({**row, "ownership_history": [dict(period) for period in history]})


def owner_at(conn: Connection, plate: str, at_ms: int) -> str | None:
    """Who owned `plate` at `at_ms` (a transfer counts from its effective time on), or None."""
    return conn.execute(
        select(vehicle_ownerships.c.owner_id).where(
            (vehicle_ownerships.c.plate == normalise(plate))
            & (vehicle_ownerships.c.from_ms <= at_ms)
            & (vehicle_ownerships.c.to_ms.is_(None) | (vehicle_ownerships.c.to_ms > at_ms))
        )
    ).scalar_one_or_none()
