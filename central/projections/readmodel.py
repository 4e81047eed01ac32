"""Base for the contexts' read-model projections (the `Projection` port over SQLAlchemy Core tables).

A `TableProjection` takes the runner's batch at once: its `handle` records the rows each event
writes in a `Writes` buffer, and the buffer executes them at the end of the batch with one
`executemany` per run of the same statement on a table (one call for all the batch's new
infractions, not one compiled statement per event). Each statement is compiled once and executed on
the DBAPI cursor with the columns' own bind processors, as the store's append path does: Core's
per-row parameter machinery cost more than the rows themselves.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import ClauseElement, ColumnElement, Connection, Dialect, Executable, Table, bindparam
from sqlalchemy.sql.compiler import SQLCompiler

from speedledger.central.eventstore.port import RecordedEvent, Transaction
from speedledger.central.messages import Event, EventTypes
from speedledger.central.projections.port import Decoded

#: A prepared statement's key: (what it does, table name).
_StatementKey = tuple[str, str]
#: The parameter names of a run of `Writes.gather`: its items are handed to its write at once.
_GATHERED = ("*gathered*",)


@dataclass(frozen=True)
class _Compiled:
    """A statement compiled for one set of parameter names, ready for the DBAPI's `executemany`."""

    sql: str
    #: Positional drivers (SQLite): the parameter names in order; named ones (psycopg): None.
    order: tuple[str, ...] | None
    #: Parameter name (escaped as the SQL has it, for named drivers) and its column type's processor.
    processors: tuple[tuple[str, Callable[[Any], Any]], ...]
    #: Original -> escaped parameter names, where the SQL needed escaping (named drivers).
    escaped: Mapping[str, str]

    @classmethod
    def of(cls, statement: Executable, names: tuple[str, ...], dialect: Dialect) -> _Compiled | None:
        """None for a statement that needs more than its parameters (defaults computed in Python,
        expanding IN lists): Core executes those."""
        assert isinstance(statement, ClauseElement)
        compiled = statement.compile(dialect=dialect, column_keys=list(names))
        assert isinstance(compiled, SQLCompiler)
        if (
            compiled.insert_prefetch
            or compiled.update_prefetch
            or compiled.post_compile_params
            or compiled.literal_execute_params
            or set(compiled.binds) != set(names)
        ):
            return None
        escaped = dict(compiled.escaped_bind_names)
        processors = []
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                processors.append((escaped.get(name, name), process))
        order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup is not None else None
        return cls(str(compiled), order, tuple(processors), escaped)

    def rows(self, params: list[dict[str, Any]]) -> list[Any]:
        """`params` as the driver takes them: tuples in `order`, or dicts under the escaped names."""
        if self.order is not None:
            if not self.processors:
                pick = itemgetter(*self.order)
                return [pick(row) for row in params] if len(self.order) > 1 else [(pick(row),) for row in params]
            index = {name: position for position, name in enumerate(self.order)}
            processed = [(index[name], process) for name, process in self.processors]
            positional = []
            for row in params:
                values = [row[name] for name in self.order]
                for position, process in processed:
                    values[position] = process(values[position])
                positional.append(values)
            return positional
        named = []
        for row in params:
            named_values = {self.escaped.get(name, name): value for name, value in row.items()} if self.escaped else row
            for name, process in self.processors:
                named_values[name] = process(named_values[name])
            named.append(named_values)
        return named

    def values(self, names: tuple[str, ...], params: list[dict[str, Any]]) -> list[list[Any]]:
        """`params` as lists in the order of `names`, through the columns' processors (a `COPY`'s rows)."""
        processors = dict(self.processors)
        processed = [
            (position, processors[self.escaped.get(name, name)])
            for position, name in enumerate(names)
            if self.escaped.get(name, name) in processors
        ]
        rows = []
        for row in params:
            values = [row[name] for name in names]
            for position, process in processed:
                values[position] = process(values[position])
            rows.append(values)
        return rows


#: A run of at least this many plain inserts goes to PostgreSQL as one `COPY` (a rebuild's batches, a
#: backlog's): the server parses one stream instead of executing the statement row by row.
COPY_MIN_ROWS = 100


class Writes:
    """The rows one batch of events writes, executed by `flush`.

    Statements on one table run in the order they were recorded, consecutive ones of the same
    statement and parameter names as one `executemany`. Tables are flushed one after the other:
    read-model tables have no foreign keys between them and handlers never read them, so the rows of
    one table never depend on another's, and a batch that interleaves tables (a violation row, an
    infraction, a history row, ...) still costs one call per table and statement kind. An update by
    primary key of a row the batch inserts goes into that row (see `update`).
    """

    def __init__(
        self,
        tables: Mapping[str, Table],
        statements: dict[_StatementKey, Executable],
        dialect: str,
        compiled: dict[tuple[Executable, tuple[str, ...]], _Compiled | None] | None = None,
    ) -> None:
        self._tables = tables
        self._statements = statements
        #: Compiled forms of `statements` by parameter names, kept by the projection across batches.
        self._compiled = {} if compiled is None else compiled
        #: The database's dialect name ("sqlite", "postgresql"), for dialect-specific statements.
        self.dialect = dialect
        #: Per table name: runs of (statement or call, parameter names, parameter sets).
        self._runs: dict[str, list[tuple[Executable | Callable[..., object], tuple[str, ...], list[Any]]]] = {}
        #: Per table name: the rows `insert` recorded, by primary key, while no other write on the table
        #: came after them: an `update` of one of them by its key changes the row before it is written.
        self._inserted: dict[str, dict[Any, dict[str, Any]]] = {}
        #: Per table name: its primary key's columns, and what gives a row's (or a `where`'s) key.
        self._keys: dict[str, tuple[frozenset[str], Callable[[Mapping[str, Any]], Any] | None]] = {}

    def add(self, table_name: str, statement: Executable, params: Mapping[str, Any]) -> None:
        """Execute `statement` with `params` at the flush, after the earlier statements on `table_name`."""
        self._inserted.pop(table_name, None)
        self._append(table_name, statement, dict(params))

    def _append(self, table_name: str, statement: Executable, row: dict[str, Any]) -> None:
        """`add` of a row the caller hands over (not copied)."""
        names = tuple(row)
        runs = self._runs.setdefault(table_name, [])
        if runs and runs[-1][0] is statement and runs[-1][1] == names:
            runs[-1][2].append(row)
        else:
            runs.append((statement, names, [row]))

    def call(self, table_name: str, write: Callable[[Connection], object]) -> None:
        """Run `write(conn)` at the flush, after the earlier statements on `table_name`: a write that must
        read first (what it reads must not be written by this batch's other runs)."""
        self._inserted.pop(table_name, None)
        self._runs.setdefault(table_name, []).append((write, (), []))

    def gather(self, table_name: str, write: Callable[[Connection, list[Any]], object], item: Any) -> None:
        """As `call`, for `write(conn, items)` with `item` and those of the `gather` calls with the same
        `write` just before it on `table_name`: one call (a statement) for a batch's items, not one each."""
        self._inserted.pop(table_name, None)
        runs = self._runs.setdefault(table_name, [])
        if runs and runs[-1][0] == write and runs[-1][1] == _GATHERED:
            runs[-1][2].append(item)
        else:
            runs.append((write, _GATHERED, [item]))

    def insert(self, table_name: str, **row: Any) -> None:
        self._append(table_name, self.prepared("insert", table_name, _insert), row)
        key_of = self._key(table_name)[1]
        if key_of is not None:
            try:
                key = key_of(row)
            except KeyError:  # the key left to the database's default
                return
            self._inserted.setdefault(table_name, {})[key] = row

    def update(self, table_name: str, where: Mapping[str, Any], **values: Any) -> None:
        """UPDATE `table_name` SET `values` WHERE each `where` column equals its value.

        A row this batch inserted, found by its primary key, with every column of `values` given at its
        insert, takes `values` in memory instead (one row written, not a row and an update: in a
        rebuild's batches a violation and its decision, an infraction and its payment).
        """
        columns, key_of = self._key(table_name)
        if key_of is not None and where.keys() == columns and values.keys().isdisjoint(columns):
            pending = self._inserted.get(table_name)
            if pending is not None and (row := pending.get(key_of(where))) is not None:
                if values.keys() <= row.keys():
                    row.update(values)
                    return
                del pending[key_of(where)]  # updated after its insert: no later update may go into it
        else:
            self._inserted.pop(table_name, None)
        statement = self.prepared(
            f"update where {','.join(where)}", table_name, lambda table: table.update().where(*_equal(table, where))
        )
        self._append(table_name, statement, {**{f"where_{name}": value for name, value in where.items()}, **values})

    def delete(self, table_name: str, where: Mapping[str, Any]) -> None:
        """DELETE FROM `table_name` WHERE each `where` column equals its value."""
        statement = self.prepared(
            f"delete where {','.join(where)}", table_name, lambda table: table.delete().where(*_equal(table, where))
        )
        self.add(table_name, statement, {f"where_{name}": value for name, value in where.items()})

    def _key(self, table_name: str) -> tuple[frozenset[str], Callable[[Mapping[str, Any]], Any] | None]:
        key = self._keys.get(table_name)
        if key is None:
            columns = [column.name for column in self._tables[table_name].primary_key]
            key = self._keys[table_name] = (frozenset(columns), itemgetter(*columns) if columns else None)
        return key

    def prepared(self, key: str, table_name: str, build: Callable[[Table], Executable]) -> Executable:
        """`build(table)`, built once per projection, table and `key` (values travel as parameters, so
        a statement also compiles once, and consecutive rows with it make one `executemany`)."""
        statement = self._statements.get((key, table_name))
        if statement is None:
            statement = self._statements[key, table_name] = build(self._tables[table_name])
        return statement

    def flush(self, conn: Connection) -> None:
        cursor = None
        for table_name, runs in self._runs.items():
            for action, names, params in runs:
                if not isinstance(action, Executable):
                    if names == _GATHERED:
                        action(conn, params)
                    else:
                        action(conn)
                    continue
                key = (action, names)
                if key not in self._compiled:
                    self._compiled[key] = _Compiled.of(action, names, conn.dialect)
                compiled = self._compiled[key]
                if compiled is None:
                    conn.execute(action, params)
                    continue
                if cursor is None:
                    cursor = conn.connection.cursor()
                if len(params) >= COPY_MIN_ROWS and conn.dialect.name == "postgresql" and self._plain_insert(action):
                    _copy(conn, cursor, self._tables[table_name], names, compiled.values(names, params))
                else:
                    cursor.executemany(compiled.sql, compiled.rows(params))
        self._runs.clear()
        self._inserted.clear()

    def _plain_insert(self, statement: Executable) -> bool:
        """True for a statement of `insert` (no conflict clause: a `COPY` does what it does)."""
        return any(key[0] == "insert" and built is statement for key, built in self._statements.items())


def _insert(table: Table) -> Executable:
    return table.insert()


def _copy(conn: Connection, cursor: Any, table: Table, names: tuple[str, ...], rows: list[list[Any]]) -> None:
    """`rows` into `table`'s columns `names` with one PostgreSQL `COPY` (psycopg)."""
    quote = conn.dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in names)
    with cursor.copy(f"COPY {quote(table.name)} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _equal(table: Table, where: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    return [table.c[name] == bindparam(f"where_{name}") for name in where]


class TableProjection:
    """Decodes the events of one context and hands them to `handle`, writing to tables bound by name.

    `bind` returns a copy writing to other tables of the same names (the runner's rebuild shadows).
    """

    name: str
    event_types: EventTypes
    #: Handlers only record writes (`Writes`), never read the tables: a rebuild may build their
    #: secondary indexes after the replay (see `projections/rebuild.py`).
    writes_only = True

    def __init__(self, tables: Sequence[Table]) -> None:
        self._tables: dict[str, Table] = {table.name: table for table in tables}
        self._statements: dict[_StatementKey, Executable] = {}
        self._compiled: dict[tuple[Executable, tuple[str, ...]], _Compiled | None] = {}

    @property
    def tables(self) -> Sequence[Table]:
        return list(self._tables.values())

    def bind(self, tables: Mapping[str, Table]) -> TableProjection:
        clone = copy.copy(self)
        clone._tables = {name: tables[name] for name in self._tables}
        clone._statements = {}
        clone._compiled = {}
        return clone

    def table(self, name: str) -> Table:
        return self._tables[name]

    def apply(self, tx: Transaction, event: RecordedEvent) -> None:
        self.apply_batch(tx, [event])

    def apply_batch(self, tx: Transaction, events: Sequence[RecordedEvent]) -> None:
        """Every event's rows, written at the end of the batch (see `Writes`)."""
        self.writes(tx.connection.dialect.name, events).flush(tx.connection)

    def prepare(
        self, dialect: str, events: Sequence[RecordedEvent], decoded: Decoded | None = None
    ) -> Callable[[Transaction], None]:
        """As `apply_batch`, in two steps: the rows now, without the database; the returned call writes them."""
        writes = self.writes(dialect, events, decoded)
        return lambda tx: writes.flush(tx.connection)

    def writes(self, dialect: str, events: Sequence[RecordedEvent], decoded: Decoded | None = None) -> Writes:
        """What `events` write, recorded by `handle` (nothing executed yet); events decoded once with the
        other projections of a rebuild through `decoded`."""
        writes = Writes(self._tables, self._statements, dialect, self._compiled)
        event_types = self.event_types
        for recorded in events:
            if decoded is None:
                event = event_types.decode(recorded.type, recorded.data)
            else:
                event = event_types.decode_once(recorded.type, recorded.data, recorded.position, decoded)
            if event is not None:
                self.handle(writes, event, recorded)
        return writes

    def handle(self, writes: Writes, event: Event, recorded: RecordedEvent) -> None:
        raise NotImplementedError
