"""Read side of dismissed violations: what the operator must look at (e.g. `radar_not_verified`).

No plate or image here: a dismissed violation charges nobody, and the operator role reads radars only.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import Connection, and_, or_, select

from speedledger.central.infractions.projection import violations


class DismissedViolation(BaseModel):
    event_id: str
    radar_id: str
    seq: int
    detected_at_ms: int
    received_at_ms: int
    #: An `infractions.domain.DismissalReason`.
    reason: str


def list_dismissed(
    conn: Connection,
    *,
    reason: str | None = None,
    radar_id: str | None = None,
    after: tuple[int, str] | None = None,
    limit: int = 50,
) -> list[DismissedViolation]:
    """Oldest detection first, then by event_id; `after` is the (detected_at_ms, event_id) of the last one seen."""
    conditions = [violations.c.outcome == "dismissed"]
    if reason is not None:
        conditions.append(violations.c.dismissal_reason == reason)
    if radar_id is not None:
        conditions.append(violations.c.radar_id == radar_id)
    if after is not None:
        after_ms, after_id = after
        conditions.append(
            or_(
                violations.c.detected_at_ms > after_ms,
                and_(violations.c.detected_at_ms == after_ms, violations.c.event_id > after_id),
            )
        )
    query = (
        select(
            violations.c.event_id,
            violations.c.radar_id,
            violations.c.seq,
            violations.c.detected_at_ms,
            violations.c.received_at_ms,
            violations.c.dismissal_reason.label("reason"),
        )
        .where(and_(*conditions))
        .order_by(violations.c.detected_at_ms, violations.c.event_id)
        .limit(limit)
    )
    return [DismissedViolation.model_validate(dict(row)) for row in conn.execute(query).mappings()]
