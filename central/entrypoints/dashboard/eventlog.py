"""The newest events of the global log that match a stream prefix and a type, read through the store's
own `read_all` in windows going back from the head (the log has no index on type)."""

from __future__ import annotations

from dataclasses import dataclass

from speedledger.central.eventstore import EventStore, RecordedEvent

#: Positions read per step back, and at most per page: a rare type may need an "older" click.
WINDOW = 500
MAX_SCANNED = 20_000


@dataclass(frozen=True)
class EventSlice:
    #: Newest first.
    events: list[RecordedEvent]
    #: Pass as `before` for the next, older slice; None when the log's start is reached.
    older_before: int | None


def newest_events(
    store: EventStore, *, stream_prefix: str = "", type_name: str = "", before: int | None = None, limit: int = 50
) -> EventSlice:
    """Up to `limit` matching events with a position below `before` (default: the head), newest first."""
    end = store.last_position() + 1 if before is None else before
    found: list[RecordedEvent] = []
    scanned = 0
    while end > 1 and len(found) < limit and scanned < MAX_SCANNED:
        start = max(0, end - 1 - WINDOW)
        window = [event for event in store.read_all(start, end - 1 - start) if event.position < end]
        found += [
            event
            for event in reversed(window)
            if event.stream_id.startswith(stream_prefix) and (not type_name or event.type == type_name)
        ]
        scanned += end - 1 - start
        end = start + 1
    if len(found) > limit:
        return EventSlice(found[:limit], found[limit - 1].position)
    return EventSlice(found, end if end > 1 else None)
