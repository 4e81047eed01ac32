"""The event log (filters, paging, live tail) with projection checkpoints and lag, and its SSE stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent

from speedledger.central.auth import Permission
from speedledger.central.bootstrap import Central
from speedledger.central.entrypoints.api.deps import CentralDep
from speedledger.central.entrypoints.api.health import check_health
from speedledger.central.entrypoints.api.routes.events import Position, resume_position, stream_events
from speedledger.central.entrypoints.dashboard.access import Viewer, needs
from speedledger.central.entrypoints.dashboard.eventlog import newest_events
from speedledger.central.entrypoints.dashboard.rendering import Pages, page_or_section, pages

router = APIRouter(include_in_schema=False)

EventsViewer = Annotated[Viewer, Depends(needs(Permission.EVENTS_READ))]
PagesDep = Annotated[Pages, Depends(pages)]
Filter = Annotated[str, Query(max_length=100)]
TypeFilter = Annotated[str, Query(alias="type", max_length=100)]
EVENTS_PAGE = 50


def _events_context(central: Central, stream: str, type_name: str, before: int | None) -> dict[str, Any]:
    found = newest_events(central.store, stream_prefix=stream, type_name=type_name, before=before, limit=EVENTS_PAGE)
    return {
        "events": [(event, json.dumps(event.data, sort_keys=True)) for event in found.events],
        "older_before": found.older_before,
        "filters": {"stream": stream, "type": type_name},
        "health": check_health(central),
    }


@router.get("/events", response_class=HTMLResponse)
@router.get("/events/live", response_class=HTMLResponse)
def events_page(
    request: Request,
    viewer: EventsViewer,
    central: CentralDep,
    pages: PagesDep,
    stream: Filter = "",
    type_name: TypeFilter = "",
    before: Annotated[Position | None, Query()] = None,
) -> HTMLResponse:
    """Newest first; `stream` keeps streams starting with it, `type` one event type; live while on the newest."""
    context = _events_context(central, stream, type_name, before)
    template = page_or_section(request, "events")
    return pages.render(request, template, viewer, before=before, head=central.store.last_position(), **context)


@router.get("/live/events", response_class=EventSourceResponse)
async def live_events(
    request: Request,
    viewer: EventsViewer,
    central: CentralDep,
    position: Annotated[int, Depends(resume_position)],
) -> AsyncIterator[ServerSentEvent]:
    """`GET /api/v1/events/stream` for a signed-in page, with the type only in the data: a browser's
    EventSource then hands every event to one `message` listener."""
    async for item in stream_events(request, central, position):
        yield item.model_copy(update={"event": None})
