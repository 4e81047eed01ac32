"""Registration read model: owners (personal data opened with their key; none once erased),
vehicles and their ownership periods."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Connection, Index, Integer, MetaData, String, Table, update

from speedledger.central.eventstore.port import RecordedEvent
from speedledger.central.messages import Event
from speedledger.central.projections.readmodel import TableProjection
from speedledger.central.registration.events import (
    REGISTRATION_EVENTS,
    OwnerErased,
    OwnerRegistered,
    OwnershipTransferred,
    VehicleRegistered,
)
from speedledger.central.registration.personal_data import PersonalDataCipher

metadata = MetaData()

owners = Table(
    "owners",
    metadata,
    Column("owner_id", String(64), primary_key=True),
    Column("name", String(200)),
    Column("birth_date", String(10)),
    Column("email", String(320)),
    Column("erased", Boolean, nullable=False),
    Column("registered_at_ms", BigInteger, nullable=False),
    Column("erased_at_ms", BigInteger),
)

vehicles = Table(
    "vehicles",
    metadata,
    Column("plate", String(12), primary_key=True),
    Column("brand", String(100), nullable=False),
    Column("model", String(100), nullable=False),
    Column("fiscal_power", Integer, nullable=False),
    Column("owner_id", String(64), nullable=False, index=True),
    Column("registered_at_ms", BigInteger, nullable=False),
)

#: [from_ms, to_ms) periods; to_ms is NULL for the current owner.
vehicle_ownerships = Table(
    "vehicle_ownerships",
    metadata,
    Column("plate", String(12), primary_key=True),
    Column("from_ms", BigInteger, primary_key=True),
    Column("to_ms", BigInteger),
    Column("owner_id", String(64), nullable=False),
    Index("ix_vehicle_ownerships_owner", "owner_id"),
)


class RegistrationProjection(TableProjection):
    name = "registration"
    event_types = REGISTRATION_EVENTS

    def __init__(self, cipher: PersonalDataCipher) -> None:
        super().__init__([owners, vehicles, vehicle_ownerships])
        self._cipher = cipher

    def handle(self, conn: Connection, event: Event, recorded: RecordedEvent) -> None:
        owner_table, vehicle_table, ownership_table = (
            self.table("owners"),
            self.table("vehicles"),
            self.table("vehicle_ownerships"),
        )
        match event:
            case OwnerRegistered():
                personal = self._cipher.open(event.owner_id, event.personal_data)
                conn.execute(
                    owner_table.insert(),
                    dict(
                        owner_id=event.owner_id,
                        name=personal.name if personal else None,
                        birth_date=personal.birth_date if personal else None,
                        email=personal.email if personal else None,
                        erased=personal is None,
                        registered_at_ms=event.registered_at_ms,
                    ),
                )
            case OwnerErased():
                conn.execute(
                    update(owner_table)
                    .where(owner_table.c.owner_id == event.owner_id)
                    .values(name=None, birth_date=None, email=None, erased=True, erased_at_ms=event.erased_at_ms)
                )
            case VehicleRegistered():
                conn.execute(
                    vehicle_table.insert(),
                    dict(
                        plate=event.plate,
                        brand=event.brand,
                        model=event.model,
                        fiscal_power=event.fiscal_power,
                        owner_id=event.owner_id,
                        registered_at_ms=event.registered_at_ms,
                    ),
                )
                conn.execute(
                    ownership_table.insert(),
                    dict(plate=event.plate, owner_id=event.owner_id, from_ms=event.registered_at_ms, to_ms=None),
                )
            case OwnershipTransferred():
                conn.execute(
                    update(vehicle_table).where(vehicle_table.c.plate == event.plate).values(owner_id=event.owner_id)
                )
                conn.execute(
                    update(ownership_table)
                    .where((ownership_table.c.plate == event.plate) & ownership_table.c.to_ms.is_(None))
                    .values(to_ms=event.effective_at_ms)
                )
                conn.execute(
                    ownership_table.insert(),
                    dict(plate=event.plate, owner_id=event.owner_id, from_ms=event.effective_at_ms, to_ms=None),
                )
