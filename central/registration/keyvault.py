"""SQL key vault: owner data keys in their own table, never in the event log nor in a projection.

The table lives in the central database by default, or in a separate one (`SPEEDLEDGER_KEYS_DB`) so
that the keys can be kept and backed up apart from the events. Deleting a row is the erasure.
"""

from __future__ import annotations

import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import BigInteger, Column, Engine, LargeBinary, MetaData, String, Table, delete, insert, select, text
from sqlalchemy.exc import IntegrityError

from speedledger.central.eventstore.sql import WRITER_OPTION

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

    def delete_key(self, subject_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(personal_data_keys).where(personal_data_keys.c.subject_id == subject_id))
