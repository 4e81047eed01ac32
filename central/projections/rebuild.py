"""Shadow tables for a projection rebuild, and their atomic swap with the live tables.

A rebuild replays the log into copies of the live tables named `<table>__rb_<token>`; indexes and
named constraints get the same suffix so they collide neither with the live ones nor with an
earlier rebuild's. The swap (inside the caller's transaction) drops each live table, renames its
shadow into place and gives the indexes back their canonical names: PostgreSQL renames them
(instant); SQLite cannot rename an index, so it drops the suffixed ones and builds the canonical
ones. Readers never see a half-built table: on SQLite (WAL) they read the old tables until the swap
commits; on PostgreSQL they wait for the swap's locks (milliseconds) and then read the new tables.

For a projection whose handlers never read its tables (`writes_only`), the shadows are created without
their secondary (non-unique) indexes: a bulk load sorts each index once after the replay instead of
updating it row by row. Primary keys and unique constraints stay, since they are part of what the rows
mean. PostgreSQL builds the deferred indexes under their suffixed names before the swap; SQLite builds
every index under its canonical name in the swap, as it must anyway.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Index, MetaData, Table, inspect, text
from sqlalchemy.sql.elements import quoted_name

SUFFIX_MARK = "__rb_"


@dataclass(frozen=True)
class ShadowTables:
    suffix: str
    live: Mapping[str, Table]
    #: Shadow tables keyed by their live table's name, as `Projection.bind` expects.
    tables: Mapping[str, Table]
    #: Secondary indexes of the shadow tables left out of `create`, for `build_deferred_indexes`.
    deferred: Sequence[Index] = ()

    @classmethod
    def for_tables(cls, live_tables: Sequence[Table], *, defer_indexes: bool = False) -> ShadowTables:
        suffix = f"{SUFFIX_MARK}{secrets.token_hex(3)}"
        shadow_metadata = MetaData()
        tables: dict[str, Table] = {}
        deferred: list[Index] = []
        for live in live_tables:
            shadow = live.to_metadata(shadow_metadata, name=f"{live.name}{suffix}")
            for index in list(shadow.indexes):
                index.name = quoted_name(f"{index.name}{suffix}", None)
                if defer_indexes and not index.unique:
                    shadow.indexes.remove(index)  # still bound to its table, for `build_deferred_indexes`
                    deferred.append(index)
            for constraint in shadow.constraints:
                if isinstance(constraint.name, str):
                    constraint.name = quoted_name(f"{constraint.name}{suffix}", None)
            tables[live.name] = shadow
        return cls(suffix, {table.name: table for table in live_tables}, tables, deferred)

    def create(self, conn: Connection) -> None:
        for table in self.tables.values():
            table.create(conn)

    def drop(self, conn: Connection) -> None:
        for table in self.tables.values():
            table.drop(conn, checkfirst=True)

    def build_deferred_indexes(self, conn: Connection) -> None:
        """After the replay, outside the swap: PostgreSQL builds the deferred indexes (the swap renames
        them); SQLite leaves them to the swap, which builds every index under its canonical name."""
        if conn.dialect.name == "postgresql":
            for index in self.deferred:
                index.create(conn)

    def swap(self, conn: Connection) -> None:
        """Put the shadow tables in place of the live ones, inside the caller's transaction."""
        quote = conn.dialect.identifier_preparer.quote
        for name, shadow in self.tables.items():
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(name)}")
            conn.exec_driver_sql(f"ALTER TABLE {quote(shadow.name)} RENAME TO {quote(name)}")
            if conn.dialect.name == "postgresql":
                self._rename_postgres_objects(conn, name)
            else:
                for index in shadow.indexes:
                    conn.exec_driver_sql(f"DROP INDEX {quote(str(index.name))}")
                for index in self.live[name].indexes:
                    index.create(conn)

    def _rename_postgres_objects(self, conn: Connection, table: str) -> None:
        quote = conn.dialect.identifier_preparer.quote
        owned = {"table": table}
        constraints = conn.execute(
            text("SELECT conname FROM pg_constraint WHERE conrelid = CAST(:table AS regclass)"), owned
        ).scalars()
        for name in list(constraints):
            if self.suffix in name:
                canonical = name.replace(self.suffix, "")
                conn.exec_driver_sql(
                    f"ALTER TABLE {quote(table)} RENAME CONSTRAINT {quote(name)} TO {quote(canonical)}"
                )
        # Indexes and sequences left (constraint renames already renamed their own indexes).
        relations = conn.execute(
            text(
                "SELECT c.relname, c.relkind FROM pg_class c WHERE c.oid IN ("
                " SELECT indexrelid FROM pg_index WHERE indrelid = CAST(:table AS regclass)"
                " UNION SELECT objid FROM pg_depend"
                "  WHERE refobjid = CAST(:table AS regclass) AND classid = 'pg_class'::regclass"
                "  AND deptype IN ('a', 'i'))"
            ),
            owned,
        ).all()
        for name, kind in relations:
            if self.suffix in name and kind in ("i", "S"):
                keyword = "INDEX" if kind == "i" else "SEQUENCE"
                canonical = name.replace(self.suffix, "")
                conn.exec_driver_sql(f"ALTER {keyword} {quote(name)} RENAME TO {quote(canonical)}")


def drop_leftovers(conn: Connection, live_tables: Sequence[Table]) -> list[str]:
    """Drop shadow tables an interrupted rebuild left behind; returns their names."""
    prefixes = tuple(f"{table.name}{SUFFIX_MARK}" for table in live_tables)
    leftovers = [name for name in inspect(conn).get_table_names() if name.startswith(prefixes)]
    quote = conn.dialect.identifier_preparer.quote
    for name in leftovers:
        conn.exec_driver_sql(f"DROP TABLE {quote(name)}")
    return leftovers
