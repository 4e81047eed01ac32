"""Central on an in-memory event store: the message bus, the projection runner, the read models and
the infraction process manager use only the `EventStore` port, so any store behind it will do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from speedledger.central.bootstrap import Central, Settings, bootstrap
from speedledger.central.eventstore.port import NO_STREAM, NewEvent
from speedledger.central.eventstore.sqlite import sqlite_engine
from speedledger.central.infractions import queries
from speedledger.central.infractions.domain import infraction_id_for
from speedledger.central.projections import checkpoints
from speedledger.central.registration.personal_data import InMemoryKeyVault
from speedledger.central.registration.projection import owners
from tests.central.conftest import FakeClock, World
from tests.store.memory_store import MemoryEventStore


@pytest.fixture
def store(tmp_path: Path) -> MemoryEventStore:
    return MemoryEventStore(sqlite_engine(f"sqlite:///{tmp_path}/read-models.db"))


@pytest.fixture
def central(store: MemoryEventStore, clock: FakeClock) -> Iterator[Central]:
    central = bootstrap(Settings(secret="memory-tests"), store=store, vault=InMemoryKeyVault(), clock=clock)
    try:
        yield central
    finally:
        central.close()


def test_a_violation_becomes_an_infraction_on_the_in_memory_store(central: Central, clock: FakeClock) -> None:
    world = World(central, clock)
    radar = world.radar("FR-A6-012", 90)
    alice = world.owner("Alice")
    world.vehicle("GZ123QK", alice)
    message = radar.violation()
    assert world.record(message) == "accepted"
    assert world.record(message) == "duplicate"

    with central.engine.connect() as conn:
        infraction = queries.get_infraction(conn, infraction_id_for(message["event_id"]), central.cipher)
        positions = checkpoints.read_all(conn)
    assert infraction is not None
    assert (infraction.owner_id, infraction.owner_name, infraction.fine_eur) == (alice, "Alice", 68)
    assert set(positions.values()) == {central.store.last_position()}  # every projection caught up


def test_rows_and_events_of_a_failed_transaction_are_both_rolled_back(
    central: Central, store: MemoryEventStore, clock: FakeClock
) -> None:
    World(central, clock).owner("Alice")
    before = store.last_position()
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.append("s", [NewEvent("X", {})], NO_STREAM)
        tx.connection.execute(owners.delete())
        assert [event.stream_id for event in tx.read_all(before)] == ["s"]
        raise RuntimeError("the unit of work failed")
    assert store.last_position() == before
    with central.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(owners)).scalar_one() == 1
