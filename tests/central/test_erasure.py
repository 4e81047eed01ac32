"""Erasure really erases: no personal data in clear in any file of the data directory, and an old
backup of the event database plus the key store after erasure cannot give it back."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from sqlalchemy import inspect

from speedledger.central.bootstrap import Central, Settings, bootstrap
from speedledger.central.eventstore.sqlite import sqlite_engine
from speedledger.central.registration import queries
from speedledger.central.registration.commands import EraseOwner, RegisterOwner
from speedledger.central.registration.events import OwnerRegistered
from speedledger.central.registration.keyvault import SqlKeyVault
from speedledger.central.registration.personal_data import PersonalDataCipher
from tests.central.conftest import FakeClock, World

NAME, EMAIL, BIRTH_DATE = "Quirinus Zeelandt", "q.zeelandt@erasure.example", "1961-07-29"
SECRETS = (NAME.encode(), b"Zeelandt", EMAIL.encode(), BIRTH_DATE.encode())


def files_holding(directory: Path, needles: tuple[bytes, ...]) -> dict[str, list[bytes]]:
    """Every file (main database, -wal, -shm, keys, ...) that contains one of `needles`, and which."""
    found = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            hits = [needle for needle in needles if needle in data]
            if hits:
                found[path.name] = hits
    return found


def backup(database: Path, copy: Path) -> None:
    """What an operator's `sqlite3 speedledger.db ".backup copy.db"` takes, while central runs."""
    with sqlite3.connect(database) as source, sqlite3.connect(copy) as target:
        source.backup(target)


def register_the_owner(central: Central) -> str:
    owner_id: str = central.bus.handle(RegisterOwner(name=NAME, birth_date=BIRTH_DATE, email=EMAIL))
    return owner_id


def start(data: Path, clock: FakeClock) -> Central:
    return bootstrap(Settings(db_url=f"sqlite:///{data / 'speedledger.db'}", secret="erasure-tests"), clock=clock)


def test_the_key_store_is_its_own_file_by_default(tmp_path: Path, clock: FakeClock) -> None:
    central = start(tmp_path, clock)
    try:
        owner_id = register_the_owner(central)
        assert isinstance(central.vault, SqlKeyVault)
        assert (tmp_path / "speedledger-keys.db").exists()
        with central.engine.connect() as conn:
            assert not inspect(conn).has_table("personal_data_keys")
        assert central.vault.get_key(owner_id) is not None
    finally:
        central.close()


def test_no_personal_data_in_clear_in_the_event_database_even_before_erasure(tmp_path: Path, clock: FakeClock) -> None:
    central = start(tmp_path, clock)
    try:
        world = World(central, clock)
        owner_id = register_the_owner(central)
        world.vehicle("GZ123QK", owner_id)
        with central.engine.connect() as conn:
            owner = queries.get_owner(conn, owner_id, central.cipher)
        assert owner is not None and (owner.name, owner.email, owner.birth_date) == (NAME, EMAIL, BIRTH_DATE)
        backup(tmp_path / "speedledger.db", tmp_path / "backup.db")
        assert files_holding(tmp_path, SECRETS) == {}
    finally:
        central.close()


def test_after_erasure_no_byte_of_it_is_left_and_an_old_backup_stays_closed(tmp_path: Path, clock: FakeClock) -> None:
    data, backups = tmp_path / "data", tmp_path / "backups"
    data.mkdir()
    backups.mkdir()
    central = start(data, clock)
    try:
        world = World(central, clock)
        owner_id = register_the_owner(central)
        other = world.owner("Bob", "bob@example.fr")
        world.vehicle("GZ123QK", owner_id)
        data_key = central.vault.get_key(owner_id)
        assert data_key is not None
        backup(data / "speedledger.db", backups / "before-erasure.db")

        central.bus.handle(EraseOwner(owner_id=owner_id))

        assert files_holding(data, (*SECRETS, data_key)) == {}
        with central.engine.connect() as conn:
            erased = queries.get_owner(conn, owner_id, central.cipher)
            kept = queries.get_owner(conn, other, central.cipher)
        assert erased is not None and (erased.name, erased.email, erased.erased) == (None, None, True)
        assert kept is not None and kept.name == "Bob"

        # The old backup with today's key store: the envelope is there, the key that opened it is not.
        with sqlite3.connect(backups / "before-erasure.db") as old:
            rows = old.execute("SELECT data FROM events WHERE type = ?", (OwnerRegistered.__name__,)).fetchall()
        assert files_holding(backups, SECRETS) == {}
        (envelope,) = [
            json.loads(data)["personal_data"] for (data,) in rows if json.loads(data)["owner_id"] == owner_id
        ]
        assert PersonalDataCipher(central.vault).open(owner_id, envelope) is None
    finally:
        central.close()


def test_keys_an_older_central_kept_beside_the_events_move_to_the_key_store(tmp_path: Path, clock: FakeClock) -> None:
    older = sqlite_engine(f"sqlite:///{tmp_path / 'speedledger.db'}")
    key = SqlKeyVault(older).get_or_create_key("owner-of-before")
    older.dispose()

    central = start(tmp_path, clock)
    try:
        assert central.vault.get_key("owner-of-before") == key
        with central.engine.connect() as conn:
            assert not inspect(conn).has_table("personal_data_keys")
        events_files = tuple(tmp_path.glob("speedledger.db*"))
        assert events_files and not [path for path in events_files if key in path.read_bytes()]
    finally:
        central.close()
