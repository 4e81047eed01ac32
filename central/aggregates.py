"""Event-sourced aggregates on the event store port: fold a stream into state, append the decided events.

Handlers use these functions and, apart from the violation feed, nothing else of the store, so a
command is "load -> decide (pure) -> append with the version loaded" (`execute`); a concurrent writer
makes the append fail with WrongExpectedVersion and the message bus retries the whole handler.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from speedledger.central.eventstore.port import EventStore, NewEvent
from speedledger.central.messages import Command, Event, EventTypes

S = TypeVar("S")


def load(
    store: EventStore, stream_id: str, types: EventTypes, evolve: Callable[[S | None, Event], S]
) -> tuple[S | None, int]:
    """The stream's state (None when it has no events) and its version (0 = NO_STREAM)."""
    state: S | None = None
    version = 0
    for recorded in store.read_stream(stream_id):
        version = recorded.version
        event = types.decode(recorded.type, recorded.data)
        if event is not None:
            state = evolve(state, event)
    return state, version


def command_metadata(command: Command) -> dict[str, str]:
    return {"actor": command.actor, "command": type(command).__name__}


def to_new_event(event: Event, metadata: Mapping[str, Any] | None = None, event_id: str | None = None) -> NewEvent:
    metadata = dict(metadata or {})
    if event_id is None:
        return NewEvent(type=event.type, data=event.data(), metadata=metadata)
    return NewEvent(type=event.type, data=event.data(), metadata=metadata, event_id=event_id)


def append(
    store: EventStore, stream_id: str, events: Sequence[Event], expected_version: int, command: Command | None = None
) -> None:
    """Append the decided events (nothing when the decision was a no-op)."""
    if events:
        metadata = command_metadata(command) if command is not None else None
        store.append(stream_id, [to_new_event(event, metadata) for event in events], expected_version)


def execute(
    store: EventStore,
    stream_id: str,
    types: EventTypes,
    evolve: Callable[[S | None, Event], S],
    command: Command,
    decide: Callable[[S | None], list[Event]],
) -> list[Event]:
    """Load the stream, decide on its state, append the decision at the loaded version; return the events."""
    state, version = load(store, stream_id, types, evolve)
    events = decide(state)
    append(store, stream_id, events, version, command)
    return events
