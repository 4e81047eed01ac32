"""Event store port and its adapters (SQLite, PostgreSQL)."""

from speedledger.central.eventstore.port import (
    ANY_VERSION,
    NO_STREAM,
    AppendRequest,
    EventStore,
    NewEvent,
    RecordedEvent,
    WrongExpectedVersion,
)

__all__ = [
    "ANY_VERSION",
    "NO_STREAM",
    "AppendRequest",
    "EventStore",
    "NewEvent",
    "RecordedEvent",
    "WrongExpectedVersion",
]
