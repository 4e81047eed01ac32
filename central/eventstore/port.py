"""The event store port: what the domain, the ingest and the projections may ask of a store.

Guarantees every adapter gives (and the shared store test suite checks):
- one global, strictly increasing `position` across all streams, and a per-stream `version` from 1;
- `append` with an expected version is atomic: all events of the call or none, and a concurrent
  writer that lost the race gets `WrongExpectedVersion`;
- `read_all(after_position)` never skips an event: an event with a lower position that commits
  later than one with a higher position is never passed over by a reader (the sequence-gap problem);
- `event_id` is unique across the store: appending a known one raises `DuplicateEvent`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

#: `expected_version` meaning "the stream must not exist yet".
NO_STREAM = 0
#: `expected_version` meaning "append whatever the stream's version".
ANY_VERSION = -1


@dataclass(frozen=True, slots=True)
class NewEvent:
    type: str
    data: Mapping[str, Any]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    position: int
    stream_id: str
    version: int
    type: str
    data: Mapping[str, Any]
    metadata: Mapping[str, Any]
    event_id: str
    recorded_at_ms: int


class WrongExpectedVersion(Exception):
    """Optimistic concurrency conflict: the stream is not at the version the writer expected."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(f"stream {stream_id!r} is at version {actual}, expected {expected}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class DuplicateEvent(Exception):
    """An event with this `event_id` is already in the store; nothing of the append was written."""

    def __init__(self, event_id: str) -> None:
        super().__init__(f"event {event_id!r} is already recorded")
        self.event_id = event_id


@dataclass(frozen=True, slots=True)
class AppendRequest:
    stream_id: str
    events: Sequence[NewEvent]
    expected_version: int


#: What one request of `append_batch` came to: its recorded events, or the error it would have raised.
AppendOutcome = list[RecordedEvent] | WrongExpectedVersion | DuplicateEvent


class EventStore(Protocol):
    def append(self, stream_id: str, events: Sequence[NewEvent], expected_version: int) -> list[RecordedEvent]:
        """Append atomically; raise WrongExpectedVersion on a conflict, DuplicateEvent for a known event_id.

        A repeated event_id wins over a version conflict, so a re-sent message reads as a duplicate.
        """
        ...

    def append_batch(self, requests: Sequence[AppendRequest]) -> list[AppendOutcome]:
        """Group commit: every request in one transaction, each with its own outcome (same order).

        A conflicting or duplicate request appends nothing and does not affect the others.
        """
        ...

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]: ...

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]: ...

    def last_position(self) -> int: ...
