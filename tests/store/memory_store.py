"""An in-memory `EventStore`: proof that what is written against the port runs on any store.

Events live in a list, decided by the port's own rule (`decide_appends`). The read models and
checkpoints live wherever the given engine points (the port says they share the store's SQL
database); a `transaction()` adds its events to the list only once that database's transaction has
committed, so rows and events still commit together or not at all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

from speedledger.central.eventstore.port import (
    AppendOutcome,
    AppendRequest,
    NewEvent,
    RecordedEvent,
    decide_appends,
)
from speedledger.central.eventstore.schema import checkpoints


class MemoryEventStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        checkpoints.create(engine, checkfirst=True)
        self._events: list[RecordedEvent] = []
        self._writer = threading.Lock()
        self._listeners: list[Callable[[int], None]] = []

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[MemoryTransaction]:
        with self._writer, self.engine.connect() as conn:
            tx = MemoryTransaction(self._events, conn)
            with conn.begin():
                yield tx
            self._events.extend(tx.pending)
        if tx.pending:
            for listener in list(self._listeners):
                listener(tx.pending[-1].position)

    def append(self, stream_id: str, events: Sequence[NewEvent], expected_version: int) -> list[RecordedEvent]:
        with self.transaction() as tx:
            return tx.append(stream_id, events, expected_version)

    def append_batch(self, requests: Sequence[AppendRequest]) -> list[AppendOutcome]:
        with self.transaction() as tx:
            return tx.append_batch(requests)

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        return [e for e in self._events if e.stream_id == stream_id and e.version > after_version]

    def stream_versions(self, stream_ids: Sequence[str]) -> dict[str, int]:
        wanted = set(stream_ids)
        return {e.stream_id: e.version for e in self._events if e.stream_id in wanted}

    def read_all(
        self, after_position: int = 0, limit: int = 1000, types: Collection[str] | None = None
    ) -> list[RecordedEvent]:
        if types is None:
            return self._events[after_position : after_position + limit]  # position n is at index n - 1
        return [e for e in self._events[after_position:] if e.type in types][:limit]

    def last_position(self) -> int:
        return len(self._events)

    def on_append(self, listener: Callable[[int], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def close(self) -> None:
        self.engine.dispose()


class MemoryTransaction:
    def __init__(self, committed: list[RecordedEvent], connection: Connection) -> None:
        self._committed = committed
        self.connection = connection
        self.pending: list[RecordedEvent] = []

    def append_batch(self, requests: Sequence[AppendRequest]) -> list[AppendOutcome]:
        every = [*self._committed, *self.pending]
        versions = {event.stream_id: event.version for event in every}
        known = {event.event_id for event in every}
        outcomes, accepted = decide_appends(requests, versions, known)
        now_ms = time.time_ns() // 1_000_000
        for index, (stream_id, current, new_events) in accepted:
            first = len(self._committed) + len(self.pending) + 1
            recorded = [
                RecordedEvent(
                    position=first + offset,
                    stream_id=stream_id,
                    version=current + 1 + offset,
                    type=event.type,
                    data=event.data,
                    metadata=event.metadata,
                    event_id=event.event_id,
                    recorded_at_ms=now_ms,
                )
                for offset, event in enumerate(new_events)
            ]
            self.pending += recorded
            outcomes[index] = recorded
        return outcomes

    def append(self, stream_id: str, events: Sequence[NewEvent], expected_version: int) -> list[RecordedEvent]:
        [outcome] = self.append_batch([AppendRequest(stream_id, events, expected_version)])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def read_all(
        self, after_position: int = 0, limit: int = 1000, types: Collection[str] | None = None
    ) -> list[RecordedEvent]:
        every = [*self._committed, *self.pending][after_position:]
        return (every if types is None else [e for e in every if e.type in types])[:limit]

    def lock_schema(self) -> None:
        """One process, one writer lock: nothing else creates tables meanwhile."""
