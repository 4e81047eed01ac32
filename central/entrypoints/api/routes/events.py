"""The global event log: paged reads and a live Server-Sent Events stream."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, Field

from speedledger.central.auth import Permission
from speedledger.central.entrypoints.api.deps import CentralDep
from speedledger.central.entrypoints.api.live import AppendSignal
from speedledger.central.entrypoints.api.security import GuardedRoute, requires
from speedledger.central.eventstore import RecordedEvent

router = APIRouter(prefix="/api/v1/events", tags=["events"], route_class=GuardedRoute)

MAX_LIMIT = 1000
MAX_POSITION = 2**63 - 1
Position = Annotated[int, Field(ge=0, le=MAX_POSITION)]
#: Events sent per read while a stream catches up.
STREAM_BATCH = 500
#: Browsers wait this long (ms) before reconnecting a dropped stream.
RECONNECT_MS = 2000


class EventOut(BaseModel):
    position: int
    stream_id: str
    version: int
    type: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    event_id: str
    recorded_at_ms: int

    @classmethod
    def of(cls, event: RecordedEvent) -> EventOut:
        return cls(
            position=event.position,
            stream_id=event.stream_id,
            version=event.version,
            type=event.type,
            data=dict(event.data),
            metadata=dict(event.metadata),
            event_id=event.event_id,
            recorded_at_ms=event.recorded_at_ms,
        )


class EventPage(BaseModel):
    items: list[EventOut]
    #: Pass as `after` to read on; equals `after` when the page is empty.
    next_after: int


@router.get("", response_model=EventPage, **requires(Permission.EVENTS_READ))
def read_events(
    central: CentralDep,
    after: Annotated[Position, Query(description="Return events with a position above this one.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> EventPage:
    events = central.store.read_all(after, limit)
    return EventPage(items=[EventOut.of(e) for e in events], next_after=events[-1].position if events else after)


def resume_position(
    after: Annotated[Position | None, Query(description="Start after this position (Last-Event-ID wins).")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> int:
    """Last-Event-ID (sent by a reconnecting EventSource) wins over the `after` of the original URL."""
    if last_event_id is None:
        return after or 0
    if not (last_event_id.isascii() and last_event_id.isdigit()) or int(last_event_id) > MAX_POSITION:
        raise HTTPException(status_code=422, detail="Last-Event-ID must be an event position (a whole number)")
    return int(last_event_id)


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "One SSE event per stored event."}},
    **requires(Permission.EVENTS_READ),
)
async def stream_events(
    request: Request,
    central: CentralDep,
    position: Annotated[int, Depends(resume_position)],
) -> AsyncIterator[ServerSentEvent]:
    """Each stored event as `id: <position>`, `event: <type>`, `data: <event JSON>`; a `: heartbeat`
    comment while idle. Reconnecting clients resume after their Last-Event-ID. Ends when the server
    shuts down (the client reconnects to the next one)."""
    settings = request.app.state.stream_settings
    signal: AppendSignal = request.app.state.append_signal
    store = central.store
    yield ServerSentEvent(retry=RECONNECT_MS, comment=f"speedledger events after {position}")
    last_sent = time.monotonic()
    while not signal.closed:
        events = await anyio.to_thread.run_sync(store.read_all, position, STREAM_BATCH)
        for event in events:
            yield ServerSentEvent(
                id=str(event.position), event=event.type, raw_data=EventOut.of(event).model_dump_json()
            )
            position = event.position
        if events:
            last_sent = time.monotonic()
            if len(events) == STREAM_BATCH:
                continue
        elif time.monotonic() - last_sent >= settings.heartbeat_s:
            yield ServerSentEvent(comment="heartbeat")
            last_sent = time.monotonic()
        await signal.wait(settings.poll_s)
