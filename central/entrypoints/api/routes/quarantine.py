"""Radar messages central refused, each with its reason (nothing is dropped silently)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from speedledger.central.auth import Permission
from speedledger.central.entrypoints.api.deps import CentralDep
from speedledger.central.entrypoints.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor, paginate
from speedledger.central.entrypoints.api.schemas import TEXT_PATTERN
from speedledger.central.entrypoints.api.security import GuardedRoute, requires
from speedledger.central.ingest.queries import list_quarantine

router = APIRouter(prefix="/api/v1/quarantine", tags=["quarantine"], route_class=GuardedRoute)


class QuarantinedMessage(BaseModel):
    quarantine_id: int
    received_at_ms: int
    topic: str
    radar_id: str | None
    event_id: str | None
    reason: str
    detail: str
    payload_sha256: str
    payload_size: int
    #: The same bytes refused on the same topic for the same reason count here instead of adding a row.
    occurrences: int
    last_received_at_ms: int
    #: The payload as received, standard base64; only with `include_payload=true`. Payloads above
    #: 64 KiB (oversized ones) keep only their first 64 KiB here: `payload_truncated`.
    payload_b64: str | None = None
    payload_truncated: bool | None = None


@router.get("", response_model=Page[QuarantinedMessage], **requires(Permission.QUARANTINE_READ))
def read_quarantine(
    central: CentralDep,
    radar_id: Annotated[str | None, Query(max_length=64, pattern=TEXT_PATTERN)] = None,
    reason: Annotated[str | None, Query(max_length=32, pattern=TEXT_PATTERN)] = None,
    event_id: Annotated[str | None, Query(max_length=36, pattern=TEXT_PATTERN)] = None,
    include_payload: bool = False,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[QuarantinedMessage]:
    """Oldest first; pass `next_cursor` back as `cursor` for the next page."""
    (after_id,) = decode_cursor(cursor, (int,)) if cursor else (0,)
    with central.engine.connect() as conn:
        rows = list_quarantine(
            conn,
            radar_id=radar_id,
            reason=reason,
            event_id=event_id,
            after_id=int(after_id),
            limit=limit + 1,
            include_payload=include_payload,
        )
    messages = [QuarantinedMessage.model_validate(row) for row in rows]
    return paginate(messages, limit, lambda message: (message.quarantine_id,))
