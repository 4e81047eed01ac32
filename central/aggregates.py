"""Event-sourced aggregates on the event store port: fold a stream into state, append the decided events.

Each context declares its aggregates once (`Aggregate(stream, types, evolve)`, e.g. `radars/aggregate.py`)
and its handlers use them, apart from the violation feed, for everything they ask of the store: a
command is "load -> decide (pure) -> append with the version loaded" (`execute`); a concurrent writer
makes the append fail with WrongExpectedVersion and the message bus retries the whole handler.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
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

    def fold(self, recorded_events: Iterable[RecordedEvent]) -> S | None:
        """The state after these stored events (None when there are none of this aggregate's)."""
        state: S | None = None
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
