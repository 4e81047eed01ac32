"""PostgreSQL adapter (psycopg 3): appends serialised by a transaction-scoped advisory lock.

The sequence-gap problem: a bigserial hands out positions at INSERT time, but transactions commit
in any order, so a reader could see position 11 committed while 10 is still in flight, move its
cursor past 10 and never see it. Every append therefore takes `pg_advisory_xact_lock` first. The
lock is held until the transaction ends, and PostgreSQL makes a transaction visible before it
releases its locks, so the next writer draws its positions only after the previous one is visible:
positions become visible in increasing order and a reader that saw N has seen everything below N.
The cost is that appends do not overlap; `append_batch` (group commit) amortises it.
"""

from __future__ import annotations

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPICursor

from speedledger.central.eventstore.sql import SqlEventStore

#: Advisory lock key for appends: int64 from the bytes of "sl-evts".
APPEND_LOCK_KEY = int.from_bytes(b"sl-evts", "big")


def postgres_url(url: str) -> str:
    """`postgresql://` (or `postgres://`) as the psycopg 3 driver URL SQLAlchemy expects."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url)
    if parsed.drivername in ("postgresql", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported PostgreSQL driver {parsed.drivername!r}; use postgresql://")


class PostgresEventStore(SqlEventStore):
    _MARK = "%s"

    def __init__(self, url: str) -> None:
        super().__init__(create_engine(postgres_url(url), pool_size=10, max_overflow=20, pool_pre_ping=True))

    def _lock_appends(self, cursor: DBAPICursor) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK_KEY,))
