"""Base for the contexts' read-model projections (the `Projection` port over SQLAlchemy Core tables).

A `TableProjection` takes the runner's batch at once: its `handle` records the rows each event
writes in a `Writes` buffer, and the buffer executes them at the end of the batch with one
`executemany` per run of the same statement on a table (one call for all the batch's new
infractions, not one compiled statement per event).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Executable, Table, bindparam

from speedledger.central.eventstore.port import RecordedEvent, Transaction
from speedledger.central.messages import Event, EventTypes

#: A prepared statement's key: (what it does, table name).
_StatementKey = tuple[str, str]


class Writes:
    """The rows one batch of events writes, executed by `flush`.

    Statements on one table run in the order they were recorded, consecutive ones of the same
    statement and parameter names as one `executemany`. Tables are flushed one after the other:
    read-model tables have no foreign keys between them and handlers never read them, so the rows of
    one table never depend on another's, and a batch that interleaves tables (a violation row, an
    infraction, a history row, ...) still costs one call per table and statement kind.
    """

    def __init__(self, tables: Mapping[str, Table], statements: dict[_StatementKey, Executable], dialect: str) -> None:
        self._tables = tables
        self._statements = statements
        #: The database's dialect name ("sqlite", "postgresql"), for dialect-specific statements.
        self.dialect = dialect
        #: Per table name: runs of (statement or call, parameter names, parameter sets).
        self._runs: dict[
            str, list[tuple[Executable | Callable[[Connection], object], tuple[str, ...], list[dict[str, Any]]]]
        ] = {}

    def add(self, table_name: str, statement: Executable, params: Mapping[str, Any]) -> None:
        """Execute `statement` with `params` at the flush, after the earlier statements on `table_name`."""
        names = tuple(params)
        runs = self._runs.setdefault(table_name, [])
        if runs and runs[-1][0] is statement and runs[-1][1] == names:
            runs[-1][2].append(dict(params))
        else:
            runs.append((statement, names, [dict(params)]))

    def call(self, table_name: str, write: Callable[[Connection], object]) -> None:
        """Run `write(conn)` at the flush, after the earlier statements on `table_name`: a write that must
        read first (what it reads must not be written by this batch's other runs)."""
        self._runs.setdefault(table_name, []).append((write, (), []))

    def insert(self, table_name: str, **row: Any) -> None:
        self.add(table_name, self.prepared("insert", table_name, lambda table: table.insert()), row)

    def update(self, table_name: str, where: Mapping[str, Any], **values: Any) -> None:
        """UPDATE `table_name` SET `values` WHERE each `where` column equals its value."""
        statement = self.prepared(
            f"update where {','.join(where)}", table_name, lambda table: table.update().where(*_equal(table, where))
        )
        self.add(table_name, statement, {**{f"where_{name}": value for name, value in where.items()}, **values})

    def delete(self, table_name: str, where: Mapping[str, Any]) -> None:
        """DELETE FROM `table_name` WHERE each `where` column equals its value."""
        statement = self.prepared(
            f"delete where {','.join(where)}", table_name, lambda table: table.delete().where(*_equal(table, where))
        )
        self.add(table_name, statement, {f"where_{name}": value for name, value in where.items()})

    def prepared(self, key: str, table_name: str, build: Callable[[Table], Executable]) -> Executable:
        """`build(table)`, built once per projection, table and `key` (values travel as parameters, so
        a statement also compiles once, and consecutive rows with it make one `executemany`)."""
        statement = self._statements.get((key, table_name))
        if statement is None:
            statement = self._statements[key, table_name] = build(self._tables[table_name])
        return statement

    def flush(self, conn: Connection) -> None:
        for runs in self._runs.values():
            for action, _names, params in runs:
                if isinstance(action, Executable):
                    conn.execute(action, params)
                else:
                    action(conn)
        self._runs.clear()


def _equal(table: Table, where: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    return [table.c[name] == bindparam(f"where_{name}") for name in where]


class TableProjection:
    """Decodes the events of one context and hands them to `handle`, writing to tables bound by name.

    `bind` returns a copy writing to other tables of the same names (the runner's rebuild shadows).
    """

    name: str
    event_types: EventTypes

    def __init__(self, tables: Sequence[Table]) -> None:
        self._tables: dict[str, Table] = {table.name: table for table in tables}
        self._statements: dict[_StatementKey, Executable] = {}

    @property
    def tables(self) -> Sequence[Table]:
        return list(self._tables.values())

    def bind(self, tables: Mapping[str, Table]) -> TableProjection:
        clone = copy.copy(self)
        clone._tables = {name: tables[name] for name in self._tables}
        clone._statements = {}
        return clone

    def table(self, name: str) -> Table:
        return self._tables[name]

    def apply(self, tx: Transaction, event: RecordedEvent) -> None:
        self.apply_batch(tx, [event])

    def apply_batch(self, tx: Transaction, events: Sequence[RecordedEvent]) -> None:
        """Every event's rows, written at the end of the batch (see `Writes`)."""
        writes = Writes(self._tables, self._statements, tx.connection.dialect.name)
        for event in events:
            decoded = self.event_types.decode(event.type, event.data)
            if decoded is not None:
                self.handle(writes, decoded, event)
        writes.flush(tx.connection)

    def handle(self, writes: Writes, event: Event, recorded: RecordedEvent) -> None:
        raise NotImplementedError
