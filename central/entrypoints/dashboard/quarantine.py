"""The quarantine: every message central refused, with its reason and a text preview of the payload."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from speedledger.central.auth import Permission
from speedledger.central.bootstrap import Central
from speedledger.central.entrypoints.api.deps import CentralDep
from speedledger.central.entrypoints.api.routes.events import Position
from speedledger.central.entrypoints.dashboard.access import Viewer, needs
from speedledger.central.entrypoints.dashboard.rendering import Pages, page_or_section, pages
from speedledger.central.ingest.queries import list_quarantine

router = APIRouter(include_in_schema=False)

QuarantineViewer = Annotated[Viewer, Depends(needs(Permission.QUARANTINE_READ))]
PagesDep = Annotated[Pages, Depends(pages)]
QUARANTINE_PAGE = 50
#: Bytes of a quarantined payload shown on the page (the API serves it whole).
PREVIEW_BYTES = 2048


def _preview(message: dict[str, Any]) -> dict[str, Any]:
    raw = base64.b64decode(message.pop("payload_b64"))
    text = raw[:PREVIEW_BYTES].decode("utf-8", errors="replace")
    return {**message, "preview": text, "truncated": len(raw) > PREVIEW_BYTES}


def _quarantine_context(central: Central, after: int) -> dict[str, Any]:
    with central.engine.connect() as conn:
        rows = list_quarantine(conn, after_id=after, limit=QUARANTINE_PAGE + 1, include_payload=True)
    messages = [_preview(row) for row in rows[:QUARANTINE_PAGE]]
    more = len(rows) > QUARANTINE_PAGE
    return {"messages": messages, "next_after": messages[-1]["quarantine_id"] if more else None, "after": after}


@router.get("/quarantine", response_class=HTMLResponse)
@router.get("/quarantine/live", response_class=HTMLResponse)
def quarantine_page(
    request: Request,
    viewer: QuarantineViewer,
    central: CentralDep,
    pages: PagesDep,
    after: Annotated[Position, Query()] = 0,
) -> HTMLResponse:
    """Oldest first, as the API lists them; refreshed every few seconds (the quarantine is not an event)."""
    template = page_or_section(request, "quarantine")
    return pages.render(request, template, viewer, **_quarantine_context(central, after))
