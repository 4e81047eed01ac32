"""Dismissed violations and section pairs: those that gave no infraction, and why (the operator's work list)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from speedledger.central.auth import Permission
from speedledger.central.entrypoints.api.deps import CentralDep
from speedledger.central.entrypoints.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor, paginate
from speedledger.central.entrypoints.api.schemas import RADAR_ID_PATTERN
from speedledger.central.entrypoints.api.security import GuardedRoute, requires
from speedledger.central.infractions.dismissals import DismissedViolation, list_dismissed
from speedledger.central.infractions.domain import DismissalReason

router = APIRouter(prefix="/api/v1/dismissals", tags=["radars"], route_class=GuardedRoute)


@router.get("", response_model=Page[DismissedViolation], **requires(Permission.RADARS_READ))
def read_dismissals(
    central: CentralDep,
    reason: DismissalReason | None = None,
    radar_id: Annotated[
        str | None,
        Query(pattern=RADAR_ID_PATTERN, description="The radar's spot violations, and the pairs it began or ended."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[DismissedViolation]:
    """Spot violations and section pairs (the exit passage's, with `section_id`), oldest first.
    `reason=radar_not_verified` lists those lost because a radar's verification had lapsed."""
    after = decode_cursor(cursor, (int, str)) if cursor else None
    with central.engine.connect() as conn:
        rows = list_dismissed(
            conn,
            reason=reason,
            radar_id=radar_id,
            after=(int(after[0]), str(after[1])) if after else None,
            limit=limit + 1,
        )
    return paginate(rows, limit, lambda row: (row.detected_at_ms, row.event_id))
