"""Event-sourced aggregates on the event store port: fold a stream into state, append the decided events.

Each context declares its aggregates once (`Aggregate(stream, types, evolve)`, e.g. `radars/aggregate.py`)
and its handlers use them, apart from the violation feed, for everything they ask of the store: a
command is "load -> decide (pure) -> append with the version loaded" (`execute`); a concurrent writer
makes the append fail with WrongExpectedVersion and the message bus retries the whole handler.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from speedledger.central.eventstore.port import EventStore, NewEvent, RecordedEvent
from speedledger.central.messages import Command, Event, EventTypes

S = TypeVar("S")


def command_metadata(command: Command) -> dict[str, str]:
    return {"actor": command.actor, "command": type(command).__name__}


def to_new_event(event: Event, metadata: Mapping[str, Any] | None = None, event_id: str | None = None) -> NewEvent:
    metadata = dict(metadata or {})
    if event_id is None:
        return NewEvent(type=event.type, data=event.data(), metadata=metadata)
    return NewEvent(type=event.type, data=event.data(), metadata=metadata, event_id=event_id)


@dataclass(frozen=True)
class Aggregate(Generic[S]):
    """One kind of aggregate: the stream of an id, how its events decode, and how they fold into state `S`."""

    stream: Callable[[str], str]
    types: EventTypes
    evolve: Callable[[S | None, Event], S]

    def fold(self, recorded_events: Iterable[RecordedEvent], state: S | None = None) -> S | None:
        """The state after these stored events, from `state` (None: from the start of the stream; None
        also when there are no events of this aggregate's)."""
        for recorded in recorded_events:
            event = self.types.decode(recorded.type, recorded.data)
            if event is not None:
                state = self.evolve(state, event)
        return state

    def load(self, store: EventStore, aggregate_id: str) -> tuple[S | None, int]:
        """The state (None when the stream has no events) and the stream's version (0 = NO_STREAM)."""
        recorded_events = store.read_stream(self.stream(aggregate_id))
        return self.fold(recorded_events), recorded_events[-1].version if recorded_events else 0

    def state(self, store: EventStore, aggregate_id: str) -> S | None:
        """The state as of the last committed event (strongly consistent), or None when unknown."""
        return self.load(store, aggregate_id)[0]

    def append(
        self,
        store: EventStore,
        aggregate_id: str,
        events: Sequence[Event],
        expected_version: int,
        command: Command | None = None,
    ) -> None:
        """Append the decided events (nothing when the decision was a no-op)."""
        if events:
            metadata = command_metadata(command) if command is not None else None
            new_events = [to_new_event(event, metadata) for event in events]
            store.append(self.stream(aggregate_id), new_events, expected_version)

    def execute(
        self, store: EventStore, aggregate_id: str, command: Command, decide: Callable[[S | None], list[Event]]
    ) -> list[Event]:
        """Load, decide on the state, append the decision at the loaded version; return the events."""
        state, version = self.load(store, aggregate_id)
        events = decide(state)
        self.append(store, aggregate_id, events, version, command)
        return events


class AggregateCache(Generic[S]):
    """States of one aggregate kind kept between batches, each checked against its stream's version.

    `lookup(ids)` asks the store for the versions of all the batch's streams in one query; a state is
    then read and folded only when asked for and its stream has moved since (only the events after the
    version it was folded to). So a radar's limit change, key revocation or status change, or a vehicle
    changing owner, is seen by the next lookup as if the stream were folded from scratch; states hold
    their history (limits, statuses, verifications by time), so nothing else about them goes stale.
    At most `size` states are kept, the least recently asked for dropped first. Not thread-safe: one
    user at a time (the ingest's check thread; the process manager's rounds, which the checkpoint
    lock serialises whichever thread runs them).
    """

    def __init__(self, aggregate: Aggregate[S], store: EventStore, size: int = 4096) -> None:
        self._aggregate = aggregate
        self._store = store
        self._size = size
        #: aggregate id -> (state, the stream version it was folded to).
        self._states: OrderedDict[str, tuple[S | None, int]] = OrderedDict()

    def lookup(self, ids: Collection[str]) -> Callable[[str], S | None]:
        """A lookup for a batch that asks for (some of) `ids`: the states as of this call's query or
        later (strongly consistent, as `Aggregate.state`); an id outside `ids` is read as of now."""
        streams = {aggregate_id: self._aggregate.stream(aggregate_id) for aggregate_id in ids}
        versions = self._store.stream_versions(list(streams.values()))

        def state(aggregate_id: str) -> S | None:
            stream = streams.get(aggregate_id)
            cached = self._states.get(aggregate_id)
            if cached is not None and stream is not None and versions.get(stream, 0) == cached[1]:
                self._states.move_to_end(aggregate_id)
                return cached[0]
            return self._refresh(aggregate_id, cached)

        return state

    def _refresh(self, aggregate_id: str, cached: tuple[S | None, int] | None) -> S | None:
        before, version = cached if cached is not None else (None, 0)
        recorded_events = self._store.read_stream(self._aggregate.stream(aggregate_id), after_version=version)
        state = self._aggregate.fold(recorded_events, before)
        self._states[aggregate_id] = (state, recorded_events[-1].version if recorded_events else version)
        self._states.move_to_end(aggregate_id)
        if len(self._states) > self._size:
            self._states.popitem(last=False)
        return state
