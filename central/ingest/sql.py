"""Dialect-aware INSERT ... ON CONFLICT for the ingest's tables (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def upsert_statement(
    dialect: str, table: Table, *, keys: Sequence[str], update: Mapping[str, Any] | None = None
) -> Any:
    """INSERT into `table` (values given at execution); on a conflict over `keys`, apply `update` (or
    keep the existing row when None)."""
    if dialect == "sqlite":
        statement: Any = sqlite.insert(table)
    elif dialect == "postgresql":
        statement = postgresql.insert(table)
    else:
        raise NotImplementedError(f"ingest tables support SQLite and PostgreSQL, not {dialect}")
    if update:
        return statement.on_conflict_do_update(index_elements=list(keys), set_=dict(update))
    return statement.on_conflict_do_nothing(index_elements=list(keys))


def upsert(
    conn: Connection,
    table: Table,
    values: Mapping[str, Any],
    *,
    keys: Sequence[str],
    update: Mapping[str, Any] | None = None,
) -> None:
    """Insert `values`; on a conflict over `keys`, apply `update` (or keep the existing row when None)."""
    conn.execute(upsert_statement(conn.dialect.name, table, keys=keys, update=update).values(**values))
