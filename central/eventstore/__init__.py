"""Event store port and its adapters (SQLite, PostgreSQL)."""

from sqlalchemy.engine import make_url

from speedledger.central.eventstore.port import (
    ANY_VERSION,
    NO_STREAM,
    AppendOutcome,
    AppendRequest,
    DuplicateEvent,
    EventStore,
    NewEvent,
    RecordedEvent,
    Transaction,
    WrongExpectedVersion,
)
from speedledger.central.eventstore.sql import SqlEventStore


def redacted_url(url: str) -> str:
    """A database URL fit for logs and terminals: its password replaced by `***`."""
    return make_url(url).render_as_string(hide_password=True)


def create_event_store(url: str) -> SqlEventStore:
    """The store for a database URL: `sqlite:///path.db` (WAL, the default) or `postgresql://...`."""
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme == "sqlite":
        from speedledger.central.eventstore.sqlite import SqliteEventStore

        return SqliteEventStore(url)
    if scheme in ("postgresql", "postgres"):
        from speedledger.central.eventstore.postgres import PostgresEventStore

        return PostgresEventStore(url)
    raise ValueError(f"unsupported event store URL {url!r}: use sqlite:///FILE or postgresql://...")


__all__ = [
    "ANY_VERSION",
    "NO_STREAM",
    "AppendOutcome",
    "AppendRequest",
    "DuplicateEvent",
    "EventStore",
    "NewEvent",
    "RecordedEvent",
    "SqlEventStore",
    "Transaction",
    "WrongExpectedVersion",
    "create_event_store",
    "redacted_url",
]
