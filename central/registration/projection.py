"""Registration read model: owners, vehicles and their ownership periods.

Owners' personal data stays sealed here too (the event's envelope, opened at read time by
`queries.get_owner`): nothing in this database, or in a backup of it, is readable without the
owner's key, and erasing the key erases every copy.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Connection, Index, Integer, MetaData, String, Table, Text, update

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

metadata = MetaData()

owners = Table(
    "owners",
    metadata,
    Column("owner_id", String(64), primary_key=True),
    #: `OwnerRegistered.personal_data`: the AES-GCM envelope, never the clear fields; NULL once erased.
    Column("personal_data", Text),
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

    def __init__(self) -> None:
        super().__init__([owners, vehicles, vehicle_ownerships])

    def handle(self, conn: Connection, event: Event, recorded: RecordedEvent) -> None:
        owner_table, vehicle_table, ownership_table = (
            self.table("owners"),
            self.table("vehicles"),
            self.table("vehicle_ownerships"),
        )
        match event:
            case OwnerRegistered():
                conn.execute(
                    owner_table.insert(),
                    dict(
                        owner_id=event.owner_id,
                        personal_data=event.personal_data,
                        erased=False,
                        registered_at_ms=event.registered_at_ms,
                    ),
                )
            case OwnerErased():
                conn.execute(
                    update(owner_table)
                    .where(owner_table.c.owner_id == event.owner_id)
                    .values(personal_data=None, erased=True, erased_at_ms=event.erased_at_ms)
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
