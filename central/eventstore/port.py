"""The event store port: what the domain, the ingest and the projections may ask of a store.

Guarantees every adapter gives (and the shared store test suite checks):
- one global, strictly increasing `position` across all streams, and a per-stream `version` from 1;
- `append` with an expected version is atomic: all events of the call or none, and a concurrent
  writer that lost the race gets `WrongExpectedVersion`;
- `read_all(after_position)` never skips an event: an event with a lower position that commits
  later than one with a higher position is never passed over by a reader (the sequence-gap problem);
- `event_id` is unique across the store: appending a known one raises `DuplicateEvent`;
- `transaction()` is the unit of work: events appended through it and rows written on its
  `connection` (read models, checkpoints, ingest tables) commit together or not at all, so a
  projection or process manager records its new events and its position in one step.

The read models are SQLAlchemy Core tables in the store's own database (`engine`): that is what
lets their rows commit with the events. A store without SQL of its own (an in-memory fake) still
offers an engine for them, e.g. an in-memory SQLite one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

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
#: (stream_id, current version, events) of an append that passed its checks.
AppendPlan = tuple[str, int, Sequence[NewEvent]]


def _first_duplicate(new_events: Sequence[NewEvent], known: set[str]) -> str | None:
    """The first event_id that is already `known` or repeats an earlier one of `new_events`."""
    seen: set[str] = set()
    for event in new_events:
        if event.event_id in known or event.event_id in seen:
            return event.event_id
        seen.add(event.event_id)
    return None


def decide_appends(
    requests: Sequence[AppendRequest], versions: dict[str, int], known: set[str]
) -> tuple[list[AppendOutcome], list[tuple[int, AppendPlan]]]:
    """Each request's fate given the streams' `versions` and the event_ids already stored (`known`),
    in order: a request sees the ones before it. Every adapter decides by this rule. Accepted
    requests get an empty placeholder outcome and a plan to write; `versions` and `known` are updated."""
    outcomes: list[AppendOutcome] = []
    accepted: list[tuple[int, AppendPlan]] = []
    for index, request in enumerate(requests):
        current = versions.get(request.stream_id, 0)
        duplicate = _first_duplicate(request.events, known)
        if duplicate is not None:  # wins over a version conflict: a re-sent message is a duplicate
            outcomes.append(DuplicateEvent(duplicate))
        elif request.expected_version not in (ANY_VERSION, current):
            outcomes.append(WrongExpectedVersion(request.stream_id, request.expected_version, current))
        else:
            outcomes.append([])
            accepted.append((index, (request.stream_id, current, request.events)))
            versions[request.stream_id] = current + len(request.events)
            known.update(event.event_id for event in request.events)
    return outcomes, accepted


class Transaction(Protocol):
    """One unit of work on the store, from `EventStore.transaction()`."""

    @property
    def connection(self) -> Connection:
        """The transaction's connection, for read-model rows that must commit with the appends."""
        ...

    def append(self, stream_id: str, events: Sequence[NewEvent], expected_version: int) -> list[RecordedEvent]:
        """As `EventStore.append`, committed with the transaction; a failed append leaves it usable."""
        ...

    def append_batch(self, requests: Sequence[AppendRequest]) -> list[AppendOutcome]:
        """As `EventStore.append_batch`, committed with the transaction: one turn at the append lock
        and one round of lookups for every request, each with its own outcome."""
        ...

    def read_all(
        self, after_position: int = 0, limit: int = 1000, types: Collection[str] | None = None
    ) -> list[RecordedEvent]:
        """As `EventStore.read_all`, inside the transaction (it sees its own appends)."""
        ...

    def lock_schema(self) -> None:
        """Serialise schema changes (CREATE TABLE ...) with other processes until the transaction ends."""
        ...


class EventStore(Protocol):
    @property
    def engine(self) -> Engine:
        """The database the read models live in, beside the events (see the module docstring)."""
        ...

    def transaction(self, *, durable: bool = True) -> AbstractContextManager[Transaction]:
        """A write transaction, committed when the `with` block ends and rolled back if it raises.

        `on_append` listeners are woken after the commit for the events appended in it. With
        `durable=False` the commit does not wait for the disk: a crash may lose this transaction (whole),
        never one committed before it, and corrupts nothing; a later durable commit makes it durable
        too. For work that can be done again, such as a rebuild's shadow tables.
        """
        ...

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

    def stream_versions(self, stream_ids: Sequence[str]) -> dict[str, int]:
        """The current version of each of `stream_ids` that exists (absent: no events), in one query."""
        ...

    def read_all(
        self, after_position: int = 0, limit: int = 1000, types: Collection[str] | None = None
    ) -> list[RecordedEvent]:
        """Events after `after_position` in global order, at most `limit`; with `types`, only events of
        those stored types (filtered by the store: the others are neither read out nor decoded)."""
        ...

    def last_position(self) -> int: ...

    def on_append(self, listener: Callable[[int], None]) -> Callable[[], None]:
        """Call `listener(last_position)` after each committed append (0: position unknown, e.g. an
        append by another process); returns the unsubscribe."""
        ...

    def close(self) -> None: ...
