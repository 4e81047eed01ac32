"""`Writes` executes read-model statements on the DBAPI cursor: the rows it stores are the rows Core's
own `executemany` stores, value for value, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Column, Connection, Float, Integer, MetaData, String, Table, Text

from speedledger.central.eventstore import SqlEventStore
from speedledger.central.projections.readmodel import COPY_MIN_ROWS, Writes

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


def test_updates_merged_into_the_batch_s_inserts_store_what_statement_by_statement_stores(
    event_store: SqlEventStore,
) -> None:
    """An update by primary key of a row the batch inserted goes into that row; the rows are those the
    statements give one after the other, in every case where merging could reorder them."""
    metadata.create_all(event_store.engine)
    steps: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("insert", {}, {"id": "a", "count": 1, "flag": True, "note": "new"}),
        ("update", {"id": "a"}, {"count": 2, "note": "merged"}),  # into a's row
        ("insert", {}, {"id": "b", "count": 1, "flag": False}),
        ("update", {"id": "b"}, {"note": "set", "count": 2}),  # a column b's insert left out: an UPDATE...
        ("update", {"id": "b"}, {"count": 3}),  # ...so this one must not go into b's insert, before it
        ("insert", {}, {"id": "c", "count": 1, "flag": True}),
        ("delete", {"id": "c"}, {}),
        ("insert", {}, {"id": "c", "count": 5, "flag": False}),
        ("update", {"id": "c"}, {"count": 6}),  # the second c
        ("insert", {}, {"id": "d", "count": 1, "flag": True}),
        ("update", {"count": 1}, {"note": "by count"}),  # not by key: d (and no row merged) after it
        ("update", {"id": "d"}, {"count": 7}),
        ("update", {"id": "z"}, {"count": 9}),  # no such row
    ]
    with event_store.transaction() as tx:
        conn = tx.connection
        writes = Writes({fast.name: fast}, {}, conn.dialect.name)
        for action, where, values in steps:
            if action == "insert":
                writes.insert(fast.name, **values)
                conn.execute(core.insert(), [values])
            elif action == "update":
                writes.update(fast.name, where, **values)
                conn.execute(core.update().where(*(core.c[k] == v for k, v in where.items())).values(**values))
            else:
                writes.delete(fast.name, where)
                conn.execute(core.delete().where(*(core.c[k] == v for k, v in where.items())))
        writes.flush(conn)

        stored = _raw(conn, fast)
        assert [(row[0], row[1], row[5]) for row in stored] == [
            ("a", 2, "merged"),
            ("b", 3, "set"),
            ("c", 6, None),
            ("d", 7, "by count"),
        ]
        assert stored == _raw(conn, core)


def test_a_long_run_of_inserts_stores_what_core_stores(event_store: SqlEventStore) -> None:
    """A run of COPY_MIN_ROWS inserts or more (PostgreSQL: one `COPY`) stores what Core's inserts store."""
    metadata.create_all(event_store.engine)
    rows = [{**row, "id": f"{row['id']}{n}"} for n in range(COPY_MIN_ROWS // len(ROWS) + 1) for row in ROWS]
    assert len(rows) >= COPY_MIN_ROWS
    with event_store.transaction() as tx:
        conn = tx.connection
        writes = Writes({fast.name: fast}, {}, conn.dialect.name)
        for row in rows:
            writes.insert(fast.name, **row)
        writes.update(fast.name, {"id": "b0"}, count=20, note="merged")
        writes.flush(conn)
        conn.execute(core.insert(), rows)
        conn.execute(core.update().where(core.c.id == "b0").values(count=20, note="merged"))

        stored = _raw(conn, fast)
        assert len(stored) == len(rows) and ("b0", 20) in [row[:2] for row in stored]
        assert stored == _raw(conn, core)
