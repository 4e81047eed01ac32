"""PostgreSQL adapter (psycopg 3): appends serialised by a transaction-scoped advisory lock.

The sequence-gap problem: a bigserial hands out positions at INSERT time, but transactions commit
in any order, so a reader could see position 11 committed while 10 is still in flight, move its
cursor past 10 and never see it. Every append therefore takes `pg_advisory_xact_lock` first. The
lock is held until the transaction ends, and PostgreSQL makes a transaction visible before it
releases its locks, so the next writer draws its positions only after the previous one is visible:
positions become visible in increasing order and a reader that saw N has seen everything below N.
The cost is that appends do not overlap; `append_batch` (group commit) amortises it.

Appends also NOTIFY a channel (in the same statement as the lock, so no extra round trip; PostgreSQL
delivers it only on commit). Once something subscribes with `on_append`, a listener thread on its
own connection wakes the subscribers for appends made by other processes (ingest workers).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPICursor

from speedledger.central.eventstore.sql import SqlEventStore

#: Advisory lock key for appends: int64 from the bytes of "sl-evts".
APPEND_LOCK_KEY = int.from_bytes(b"sl-evts", "big")
#: Advisory lock key for schema creation by processes starting together: "sl-schm".
SCHEMA_LOCK_KEY = int.from_bytes(b"sl-schm", "big")
#: LISTEN/NOTIFY channel announcing committed appends.
CHANNEL = "speedledger_events"
#: How often the listener thread looks whether the store is closing: `close()` waits up to this long.
CLOSING_CHECK_S = 0.1

log = logging.getLogger(__name__)


def postgres_url(url: str) -> str:
    """`postgresql://` (or `postgres://`) as the psycopg 3 driver URL SQLAlchemy expects."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url)
    if parsed.drivername in ("postgresql", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported PostgreSQL driver {parsed.drivername!r}; use postgresql://")


class PostgresEventStore(SqlEventStore):
    _MARK = "%s"

    def __init__(self, url: str) -> None:
        # hide_parameters: a failing statement is logged without its values (owner data, messages).
        engine = create_engine(
            postgres_url(url), pool_size=10, max_overflow=20, pool_pre_ping=True, hide_parameters=True
        )
        super().__init__(engine)
        self._libpq_url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._listener: threading.Thread | None = None
        self._closing = threading.Event()

    def _lock_schema(self, conn: Connection) -> None:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})

    def _begun_without_waiting(self, conn: Connection) -> None:
        """The commit returns before its WAL is flushed; a crash loses at most this transaction."""
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")

    def _lock_appends(self, cursor: DBAPICursor) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(%s), pg_notify(%s, '')", (APPEND_LOCK_KEY, CHANNEL))

    def on_append(self, listener: Callable[[int], None]) -> Callable[[], None]:
        """As the base, and appends committed by other processes call `listener(0)` (position unknown)."""
        unsubscribe = super().on_append(listener)
        if self._listener is None:
            self._listener = threading.Thread(target=self._listen, name="event-store-listen", daemon=True)
            self._listener.start()
        return unsubscribe

    def _listen(self) -> None:
        while not self._closing.is_set():
            try:
                with psycopg.connect(self._libpq_url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self._closing.is_set():
                        for _notification in conn.notifies(timeout=CLOSING_CHECK_S, stop_after=1):
                            self._notify(0)
            except psycopg.Error as error:
                log.warning("LISTEN %s failed (%s); subscribers fall back to polling, retrying in 5 s", CHANNEL, error)
                self._closing.wait(5)

    def close(self) -> None:
        self._closing.set()
        if self._listener is not None:
            self._listener.join(5)
        super().close()
