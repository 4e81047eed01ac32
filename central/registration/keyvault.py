"""SQL key vault: data keys in their own table, never in the event log nor in a projection: one per
owner (`personal_data.py`) and one per retention window of section passages (`sections/retention.py`).

The vault has its own database: `SPEEDLEDGER_KEYS_DB`, by default a SQLite file beside a SQLite event
database (`speedledger.db` -> `speedledger-keys.db`), so a backup of the events never holds a key.
On PostgreSQL without `SPEEDLEDGER_KEYS_DB` the table shares the central database (docs/operations.md).

Deleting a row is the erasure. On SQLite the vault runs with `secure_delete` (freed bytes are zeroed)
and erasing checkpoints the WAL into the main file and truncates it, so the key's bytes are left
in no file of the data directory.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from speedledger.central.eventstore.postgres import postgres_url
from speedledger.central.eventstore.sql import WRITER_OPTION
from speedledger.central.eventstore.sqlite import sqlite_engine

log = logging.getLogger(__name__)

metadata = MetaData()
#: Advisory lock key for creating the vault's table: int64 from the bytes of "sl-keys".
_SCHEMA_LOCK_KEY = int.from_bytes(b"sl-keys", "big")

personal_data_keys = Table(
    "personal_data_keys",
    metadata,
    Column("subject_id", String(64), primary_key=True),
    Column("data_key", LargeBinary(32), nullable=False),
    Column("created_at_ms", BigInteger, nullable=False),
)


def default_keys_url(db_url: str) -> str | None:
    """The vault's own SQLite file beside a SQLite event database; None (the central database) else."""
    url = make_url(db_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    events = Path(url.database)
    return url.set(database=str(events.with_name(f"{events.stem}-keys{events.suffix or '.db'}"))).render_as_string(
        hide_password=False
    )


def keys_engine(url: str) -> Engine:
    """An engine for the vault's own database; on SQLite every connection zeroes what it deletes."""
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(postgres_url(url), pool_pre_ping=True, hide_parameters=True)
    engine = sqlite_engine(url)

    @event.listens_for(engine, "connect")
    def _secure_delete(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA secure_delete=ON")

    return engine


class SqlKeyVault:
    def __init__(self, engine: Engine, *, owns_engine: bool = False) -> None:
        self._engine = engine
        self._owns_engine = owns_engine
        self._create_schema()

    def _create_schema(self) -> None:
        """Create the table once even when several processes start together: the existence check
        and the CREATE run under a lock (PostgreSQL: advisory; SQLite: the writer's BEGIN IMMEDIATE)."""
        with self._engine.execution_options(**{WRITER_OPTION: True}).begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
            metadata.create_all(conn)

    def close(self) -> None:
        """Release the vault's own database (SPEEDLEDGER_KEYS_DB); a shared engine is left alone."""
        if self._owns_engine:
            self._engine.dispose()

    def get_key(self, subject_id: str) -> bytes | None:
        with self._engine.connect() as conn:
            key = conn.execute(
                select(personal_data_keys.c.data_key).where(personal_data_keys.c.subject_id == subject_id)
            ).scalar_one_or_none()
        return bytes(key) if key is not None else None

    def get_or_create_key(self, subject_id: str) -> bytes:
        existing = self.get_key(subject_id)
        if existing is not None:
            return existing
        key = AESGCM.generate_key(bit_length=256)
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(personal_data_keys).values(
                        subject_id=subject_id, data_key=key, created_at_ms=int(time.time() * 1000)
                    )
                )
        except IntegrityError:
            # A concurrent writer created it first: use theirs.
            raced = self.get_key(subject_id)
            if raced is None:
                raise
            return raced
        return key

    def subjects(self, prefix: str) -> list[str]:
        column = personal_data_keys.c.subject_id
        with self._engine.connect() as conn:
            rows = conn.execute(select(column).where(column.startswith(prefix, autoescape=True)).order_by(column))
            return [str(subject) for subject in rows.scalars()]

    def adopt_keys_from(self, events: Engine) -> int:
        """Move the keys an older central kept in the events' database (`personal_data_keys` there)
        into this vault, then drop that table (zeroed and checkpointed on SQLite); returns how many
        keys moved. Safe when several processes start together: a key already here is kept."""
        if events.url == self._engine.url or not inspect(events).has_table(personal_data_keys.name):
            return 0
        with events.execution_options(**{WRITER_OPTION: True}).begin() as conn:
            rows = conn.execute(select(personal_data_keys)).all()
        for row in rows:
            with contextlib.suppress(IntegrityError), self._engine.begin() as conn:
                conn.execute(insert(personal_data_keys).values(**row._mapping))
        with events.execution_options(**{WRITER_OPTION: True}).begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA secure_delete=ON")
            personal_data_keys.drop(conn, checkfirst=True)
        if events.dialect.name == "sqlite":
            _checkpoint(events)
        log.warning(
            "moved %d owner data keys out of the events' database into the key store; VACUUM that database "
            "and rebuild the registration read model (docs/operations.md, Backups and erasure)",
            len(rows),
        )
        return len(rows)

    def delete_key(self, subject_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(personal_data_keys).where(personal_data_keys.c.subject_id == subject_id))
        if self._engine.dialect.name == "sqlite":
            _checkpoint(self._engine)


def _checkpoint(engine: Engine) -> None:
    """Copy a SQLite WAL (which still holds the page with a key) into the main file, where
    secure_delete zeroed it, and truncate the WAL to nothing."""
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        busy, _, _ = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        log.warning("WAL checkpoint of %s blocked by a reader; deleted keys leave the WAL at the next one", engine.url)
