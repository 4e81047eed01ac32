"""Registration read model: owners, vehicles and their ownership periods.

Owners' personal data stays sealed here too (the event's envelope, opened at read time by
`queries.get_owner`): nothing in this database, or in a backup of it, is readable without the
owner's key, and erasing the key erases every copy.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Executable, Index, Integer, MetaData, String, Table, Text, bindparam

from speedledger.central.eventstore.port import RecordedEvent
from speedledger.central.messages import Event
from speedledger.central.projections.readmodel import TableProjection, Writes
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

    def handle(self, writes: Writes, event: Event, recorded: RecordedEvent) -> None:
        match event:
            case OwnerRegistered():
                writes.insert(
                    "owners",
                    owner_id=event.owner_id,
                    personal_data=event.personal_data,
                    erased=False,
                    registered_at_ms=event.registered_at_ms,
                )
            case OwnerErased():
                writes.update(
                    "owners",
                    {"owner_id": event.owner_id},
                    personal_data=None,
                    erased=True,
                    erased_at_ms=event.erased_at_ms,
                )
            case VehicleRegistered():
                writes.insert(
                    "vehicles",
                    plate=event.plate,
                    brand=event.brand,
                    model=event.model,
                    fiscal_power=event.fiscal_power,
                    owner_id=event.owner_id,
                    registered_at_ms=event.registered_at_ms,
                )
                writes.insert(
                    "vehicle_ownerships",
                    plate=event.plate,
                    owner_id=event.owner_id,
                    from_ms=event.registered_at_ms,
                    to_ms=None,
                )
            case OwnershipTransferred():
                writes.update("vehicles", {"plate": event.plate}, owner_id=event.owner_id)
                close_current = writes.prepared("close the current ownership", "vehicle_ownerships", _close_current)
                writes.add(
                    "vehicle_ownerships", close_current, {"where_plate": event.plate, "to_ms": event.effective_at_ms}
                )
                writes.insert(
                    "vehicle_ownerships",
                    plate=event.plate,
                    owner_id=event.owner_id,
                    from_ms=event.effective_at_ms,
                    to_ms=None,
                )


def _close_current(ownerships: Table) -> Executable:
    """UPDATE the plate's open ownership period (to_ms NULL) to end at `to_ms`."""
    return ownerships.update().where((ownerships.c.plate == bindparam("where_plate")) & ownerships.c.to_ms.is_(None))
