"""`Writes` executes read-model statements on the DBAPI cursor: the rows it stores are the rows Core's
own `executemany` stores, value for value, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Column, Connection, Float, Integer, MetaData, String, Table, Text

from speedledger.central.eventstore import SqlEventStore
from speedledger.central.projections.readmodel import Writes

metadata = MetaData()


def _columns() -> list[Column[Any]]:
    return [
        Column("id", String(8), primary_key=True),
        Column("count", Integer, nullable=False),
        Column("at_ms", BigInteger),
        Column("flag", Boolean, nullable=False),
        Column("ratio", Float),
        Column("note", Text),
        Column("doc", JSON),
        Column("kind", String(8), nullable=False, server_default="spot"),
    ]


fast = Table("writes_fast", metadata, *_columns())
core = Table("writes_core", metadata, *_columns())

ROWS: list[dict[str, Any]] = [
    {"id": "a", "count": 1, "at_ms": 2**40, "flag": True, "ratio": 0.5, "note": "é ✓", "doc": {"k": [1, None]}},
    {"id": "b", "count": 2, "at_ms": None, "flag": False, "ratio": None, "note": None, "doc": None},
    {"id": "c", "count": 3, "at_ms": 7, "flag": True, "ratio": 3, "note": "", "doc": [1, "x"]},
]


def _raw(conn: Connection, table: Table) -> list[tuple[Any, ...]]:
    """The stored values as the driver returns them, with no type processing of Core's."""
    return [tuple(row) for row in conn.exec_driver_sql(f"SELECT * FROM {table.name} ORDER BY id")]


def test_writes_store_what_core_stores(event_store: SqlEventStore) -> None:
    metadata.create_all(event_store.engine)
    with event_store.transaction() as tx:
        conn = tx.connection
        writes = Writes({fast.name: fast}, {}, conn.dialect.name)
        for row in ROWS:
            writes.insert(fast.name, **row)
        writes.insert(fast.name, id="d", count=4, flag=False)  # other columns: a run of its own, defaults
        writes.update(fast.name, {"id": "a"}, count=10, doc={"updated": True})
        writes.delete(fast.name, {"id": "c"})
        writes.flush(conn)

        conn.execute(core.insert(), ROWS)
        conn.execute(core.insert(), [{"id": "d", "count": 4, "flag": False}])
        conn.execute(core.update().where(core.c.id == "a").values(count=10, doc={"updated": True}))
        conn.execute(core.delete().where(core.c.id == "c"))

        stored = _raw(conn, fast)
        assert [row[0] for row in stored] == ["a", "b", "d"]
        assert stored == _raw(conn, core)
