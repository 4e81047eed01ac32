"""Projection checkpoints: the last applied position, written in the projection's own transaction."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from functools import cache

from sqlalchemy import Connection, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite

from speedledger.central.eventstore.schema import checkpoints

_READ_ALL = f"SELECT name, position FROM {checkpoints.name}"
_STORE = update(checkpoints).where(checkpoints.c.name == bindparam("checkpoint")).values(position=bindparam("at"))


def ensure(conn: Connection, name: str) -> None:
    """Create the checkpoint row at position 0 unless it exists (safe against a concurrent process)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(checkpoints).values(name=name, position=0).on_conflict_do_nothing())


def lock(conn: Connection, name: str) -> int:
    """The checkpoint, locked until `conn`'s transaction ends (see `lock_all`)."""
    return lock_all(conn, [name])[name]


def lock_all(conn: Connection, names: Collection[str]) -> dict[str, int]:
    """The checkpoints of `names` in one statement, locked until `conn`'s transaction ends (PostgreSQL:
    FOR UPDATE, in name order; SQLite: the writer transaction already excludes other writers), so two
    runners never apply the same batch. Plain SQL: the runner's every round runs it, and building the
    statement's IN list through SQLAlchemy cost six times its execution."""
    rows = conn.exec_driver_sql(_lock_all_sql(conn.dialect.name, conn.dialect.paramstyle, len(names)), tuple(names))
    positions = {name: position for name, position in rows}
    missing = set(names) - set(positions)
    if missing:
        raise LookupError(f"no checkpoint for {sorted(missing)}")
    return positions


def store(conn: Connection, name: str, position: int) -> None:
    store_all(conn, {name: position})


def store_all(conn: Connection, positions: Mapping[str, int]) -> None:
    """Every checkpoint of `positions` in one `executemany`."""
    if positions:
        conn.execute(_STORE, [{"checkpoint": name, "at": position} for name, position in positions.items()])


def read_all(conn: Connection) -> dict[str, int]:
    return {name: position for name, position in conn.exec_driver_sql(_READ_ALL)}


@cache
def _lock_all_sql(dialect: str, paramstyle: str, count: int) -> str:
    marks = ", ".join(["?" if paramstyle == "qmark" else "%s"] * count)
    lock = " FOR UPDATE" if dialect == "postgresql" else ""
    return f"SELECT name, position FROM {checkpoints.name} WHERE name IN ({marks}) ORDER BY name{lock}"
