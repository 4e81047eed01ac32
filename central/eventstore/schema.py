"""The event store's tables, shared by the SQLite and PostgreSQL adapters."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text, UniqueConstraint

metadata = MetaData()

#: One row per event. `position` is the global order (SQLite: the rowid; PostgreSQL: a bigserial
#: whose values become visible in commit order because appends are serialised, see postgres.py).
events = Table(
    "events",
    metadata,
    Column("position", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("stream_id", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("type", String(255), nullable=False),
    Column("data", Text, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("recorded_at_ms", BigInteger, nullable=False),
    UniqueConstraint("stream_id", "version", name="uq_events_stream_version"),
    UniqueConstraint("event_id", name="uq_events_event_id"),
)

#: One row per projection: the position of the last event it applied, written in the same
#: transaction as the projection's own rows.
checkpoints = Table(
    "projection_checkpoints",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("position", BigInteger, nullable=False),
)
