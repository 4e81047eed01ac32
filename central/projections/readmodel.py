"""Base for the contexts' read-model projections (the `Projection` port over SQLAlchemy Core tables)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam

from speedledger.central.eventstore.port import RecordedEvent, Transaction
from speedledger.central.messages import Event, EventTypes


class TableProjection:
    """Decodes the events of one context and hands them to `handle`, writing to tables bound by name.

    `bind` returns a copy writing to other tables of the same names (the runner's rebuild shadows).
    """

    name: str
    event_types: EventTypes

    def __init__(self, tables: Sequence[Table]) -> None:
        self._tables: dict[str, Table] = {table.name: table for table in tables}

    @property
    def tables(self) -> Sequence[Table]:
        return list(self._tables.values())

    def bind(self, tables: Mapping[str, Table]) -> TableProjection:
        clone = copy.copy(self)
        clone._tables = {name: tables[name] for name in self._tables}
        return clone

    def table(self, name: str) -> Table:
        return self._tables[name]

    def update(self, conn: Connection, table_name: str, where: Mapping[str, Any], **values: Any) -> None:
        """UPDATE `table_name` SET `values` WHERE each `where` column equals its value.

        Values travel as parameters, so the statement compiles once per shape (replays stay fast).
        """
        table = self.table(table_name)
        statement = table.update().where(*(table.c[name] == bindparam(f"where_{name}") for name in where))
        conn.execute(statement, {**{f"where_{name}": value for name, value in where.items()}, **values})

    def apply(self, tx: Transaction, event: RecordedEvent) -> None:
        decoded = self.event_types.decode(event.type, event.data)
        if decoded is not None:
            self.handle(tx.connection, decoded, event)

    def handle(self, conn: Connection, event: Event, recorded: RecordedEvent) -> None:
        raise NotImplementedError
