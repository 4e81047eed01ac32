"""Owners and vehicles: ownership over time, validation, and crypto-shredding of personal data."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, inspect, select

from speedledger.central.bootstrap import Central, Settings, bootstrap
from speedledger.central.errors import Conflict, Invalid, NotFound
from speedledger.central.eventstore.postgres import postgres_url
from speedledger.central.eventstore.sqlite import sqlite_engine
from speedledger.central.registration import queries
from speedledger.central.registration.commands import EraseOwner, RegisterOwner, RegisterVehicle, TransferOwnership
from speedledger.central.registration.keyvault import SqlKeyVault, personal_data_keys
from speedledger.central.registration.lookup import load_vehicle
from tests.central.conftest import HOUR, T0, FakeClock, World
from tests.fixtures.postgres import sqlite_only


def test_owner_at_time_across_a_transfer(central: Central, world: World, conn: Connection) -> None:
    alice, bob = world.owner("Alice"), world.owner("Bob", "bob@example.fr")
    plate = world.vehicle("gz-123-qk", alice, registered_at_ms=T0)
    central.bus.handle(TransferOwnership(plate="GZ123QK", owner_id=bob, effective_at_ms=T0 + HOUR))

    assert plate == "GZ123QK"
    assert queries.owner_at(conn, "GZ123QK", T0 - 1) is None  # before registration: nobody, never a guess
    assert queries.owner_at(conn, "GZ123QK", T0) == alice
    assert queries.owner_at(conn, "gz-123-qk", T0 + HOUR - 1) == alice
    assert queries.owner_at(conn, "GZ123QK", T0 + HOUR) == bob  # from the effective time on
    assert queries.owner_at(conn, "GZ123QK", T0 + 100 * HOUR) == bob
    vehicle = load_vehicle(central.store, "GZ123QK")  # the process manager's view agrees
    assert vehicle is not None
    assert [vehicle.owner_at(t) for t in (T0 - 1, T0, T0 + HOUR - 1, T0 + HOUR)] == [None, alice, alice, bob]

    view = queries.get_vehicle(conn, "GZ123QK")
    assert view is not None and view.owner_id == bob
    assert [(p.owner_id, p.from_ms, p.to_ms) for p in view.ownership_history] == [
        (alice, T0, T0 + HOUR),
        (bob, T0 + HOUR, None),
    ]
    alice_view, bob_view = queries.get_owner(conn, alice, central.cipher), queries.get_owner(conn, bob, central.cipher)
    assert alice_view is not None and alice_view.vehicles == []
    assert bob_view is not None and [v.plate for v in bob_view.vehicles] == ["GZ123QK"]


def test_transfers_never_rewrite_history(central: Central, world: World) -> None:
    alice, bob = world.owner("Alice"), world.owner("Bob", "bob@example.fr")
    world.vehicle("AB123CD", alice, registered_at_ms=T0)
    with pytest.raises(Conflict, match="after the current ownership"):
        central.bus.handle(TransferOwnership(plate="AB123CD", owner_id=bob, effective_at_ms=T0))
    with pytest.raises(Conflict, match="already owns"):
        central.bus.handle(TransferOwnership(plate="AB123CD", owner_id=alice, effective_at_ms=T0 + 1))
    with pytest.raises(NotFound, match="owner"):
        central.bus.handle(
            TransferOwnership(plate="AB123CD", owner_id="00000000-0000-0000-0000-000000000000", effective_at_ms=T0 + 1)
        )
    with pytest.raises(NotFound, match="vehicle ZZ999ZZ"):
        central.bus.handle(TransferOwnership(plate="zz-999-zz", owner_id=bob, effective_at_ms=T0 + 1))


@sqlite_only
def test_vehicle_validation(central: Central, world: World) -> None:
    alice = world.owner()
    world.vehicle("AB-123-CD", alice)
    with pytest.raises(Conflict, match="already registered"):
        world.vehicle("ab 123 cd", alice)
    with pytest.raises(Invalid, match="plate"):
        world.vehicle("--", alice)
    with pytest.raises(Invalid, match="plate"):
        world.vehicle("A" * 13, alice)
    with pytest.raises(NotFound, match="owner"):
        world.vehicle("XY123ZZ", "11111111-1111-1111-1111-111111111111")
    with pytest.raises(Invalid, match="fiscal_power"):
        central.bus.handle(RegisterVehicle(plate="XY123ZZ", brand="R", model="C", fiscal_power=0, owner_id=alice))


@sqlite_only
def test_a_plate_must_have_a_known_format_unless_declared_foreign(central: Central, world: World) -> None:
    alice = world.owner()
    for plate in ("XXX", "AB123C", "OO123OO"):
        with pytest.raises(Invalid, match="SIV"):
            central.bus.handle(RegisterVehicle(plate=plate, brand="R", model="C", fiscal_power=5, owner_id=alice))
    foreign = RegisterVehicle(plate="M-AB 1234", brand="BMW", model="3", fiscal_power=9, owner_id=alice, foreign=True)
    assert central.bus.handle(foreign) == "MAB1234"


@sqlite_only
@pytest.mark.parametrize(
    ("name", "birth_date", "email", "message"),
    [
        ("", "1980-01-01", "a@b.fr", "name"),
        ("Ann", "01/02/1980", "a@b.fr", "birth_date"),
        ("Ann", "2025-11-29", "a@b.fr", "birth_date"),  # the day after the (fake) clock's today
        ("Ann", "1899-12-31", "a@b.fr", "birth_date"),
        ("Ann", "1980-01-01", "not an address", "email"),
    ],
)
def test_owner_validation(central: Central, name: str, birth_date: str, email: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        central.bus.handle(RegisterOwner(name=name, birth_date=birth_date, email=email))


@sqlite_only
def test_owner_id_may_be_chosen_for_idempotent_seeding(central: Central) -> None:
    owner_id = "5b1c7d0e-8a61-4e0b-9f3a-0c2d4e6f8a10"
    command = RegisterOwner(name="Ann", birth_date="1980-01-01", email="a@b.fr", owner_id=owner_id)
    assert central.bus.handle(command) == owner_id
    with pytest.raises(Conflict, match="already exists"):
        central.bus.handle(command)
    with pytest.raises(Invalid, match="UUID"):
        central.bus.handle(RegisterOwner(name="Ann", birth_date="1980-01-01", email="a@b.fr", owner_id="ann"))


@sqlite_only
def test_personal_data_never_in_the_event_log(central: Central, world: World) -> None:
    owner_id = world.owner("Zoé Écrivain", "zoe.ecrivain@example.fr")
    (registered,) = central.store.read_stream(f"owner-{owner_id}")
    stored = json.dumps(dict(registered.data), ensure_ascii=False) + json.dumps(dict(registered.metadata))
    for secret in ("Zoé", "Écrivain", "zoe.ecrivain", "1980-04-01"):
        assert secret not in stored
    assert registered.data["personal_data"].startswith("v1.")


def test_erasure_shreds_personal_data_but_keeps_history(central: Central, world: World, conn: Connection) -> None:
    alice, bob = world.owner("Alice"), world.owner("Bob", "bob@example.fr")
    world.vehicle("GZ123QK", alice, registered_at_ms=T0)
    central.bus.handle(EraseOwner(owner_id=alice))

    erased = queries.get_owner(conn, alice, central.cipher)
    assert erased is not None
    assert (erased.name, erased.birth_date, erased.email, erased.erased) == (None, None, None, True)
    assert erased.erased_at_ms == T0
    assert [v.plate for v in erased.vehicles] == ["GZ123QK"]  # the registration stays
    assert queries.owner_at(conn, "GZ123QK", T0) == alice
    kept = queries.get_owner(conn, bob, central.cipher)
    assert kept is not None and kept.name == "Bob"
    # The key is gone from the vault: the envelope in the immutable event can never be opened again.
    assert central.vault.get_key(alice) is None
    assert central.vault.get_key(bob) is not None
    assert [event.type for event in central.store.read_stream(f"owner-{alice}")] == ["OwnerRegistered", "OwnerErased"]

    with pytest.raises(Conflict, match="already erased"):
        central.bus.handle(EraseOwner(owner_id=alice))
    with pytest.raises(NotFound):
        central.bus.handle(EraseOwner(owner_id="22222222-2222-2222-2222-222222222222"))
    with pytest.raises(Conflict, match="erased"):
        world.vehicle("NEW1", alice)
    with pytest.raises(Conflict, match="erased"):
        central.bus.handle(TransferOwnership(plate="GZ123QK", owner_id=alice, effective_at_ms=T0 + 1))


def test_erasure_survives_a_rebuild(central: Central, world: World) -> None:
    alice, bob = world.owner("Alice"), world.owner("Bob", "bob@example.fr")
    central.bus.handle(EraseOwner(owner_id=alice))
    central.runner.rebuild("registration")
    with central.engine.connect() as conn:
        erased, kept = queries.get_owner(conn, alice, central.cipher), queries.get_owner(conn, bob, central.cipher)
    assert erased is not None and (erased.name, erased.email, erased.erased) == (None, None, True)
    assert kept is not None and (kept.name, kept.email) == ("Bob", "bob@example.fr")


def test_keys_in_a_separate_database(tmp_path: Path, clock: FakeClock) -> None:
    settings = Settings(
        db_url=f"sqlite:///{tmp_path / 'events.db'}", keys_db_url=f"sqlite:///{tmp_path / 'keys.db'}", secret="x"
    )
    central = bootstrap(settings, clock=clock)
    try:
        owner_id = World(central, clock).owner("Alice")
        keys_engine = create_engine(settings.keys_db_url or "")
        with keys_engine.connect() as keys_conn, central.engine.connect() as conn:
            assert keys_conn.execute(select(personal_data_keys.c.subject_id)).scalars().all() == [owner_id]
            assert not inspect(conn).has_table("personal_data_keys")  # nothing of the keys beside the events
            owner = queries.get_owner(conn, owner_id, central.cipher)
        keys_engine.dispose()
        assert owner is not None and owner.name == "Alice"
    finally:
        central.close()


def test_vaults_starting_together_create_their_table_once(empty_database_url: str) -> None:
    """Several centrals starting at once on an empty database (ingest workers, API replicas)."""
    url = empty_database_url
    engine = sqlite_engine(url) if url.startswith("sqlite") else create_engine(postgres_url(url))
    errors: list[BaseException] = []
    barrier = threading.Barrier(5)

    def start() -> None:
        barrier.wait()
        try:
            SqlKeyVault(engine).get_or_create_key("owner")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    keys = {SqlKeyVault(engine).get_key("owner")}
    engine.dispose()
    assert errors == []
    assert len(keys) == 1 and None not in keys
