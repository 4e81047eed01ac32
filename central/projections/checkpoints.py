"""Projection checkpoints: the last applied position, written in the projection's own transaction."""

from __future__ import annotations

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from speedledger.central.eventstore.schema import checkpoints


def ensure(conn: Connection, name: str) -> None:
    """Create the checkpoint row at position 0 unless it exists (safe against a concurrent process)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(checkpoints).values(name=name, position=0).on_conflict_do_nothing())


def lock(conn: Connection, name: str) -> int:
    """The checkpoint, locked until `conn`'s transaction ends (PostgreSQL: FOR UPDATE; SQLite: the
    writer transaction already excludes other writers), so two runners never apply the same batch."""
    position: int = conn.execute(
        select(checkpoints.c.position).where(checkpoints.c.name == name).with_for_update()
    ).scalar_one()
    return position


def store(conn: Connection, name: str, position: int) -> None:
    conn.execute(update(checkpoints).where(checkpoints.c.name == name).values(position=position))


def read_all(conn: Connection) -> dict[str, int]:
    return {name: position for name, position in conn.execute(select(checkpoints.c.name, checkpoints.c.position))}
