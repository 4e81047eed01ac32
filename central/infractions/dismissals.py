"""Read side of dismissed violations and section pairs: what the operator must look at (e.g.
`radar_not_verified`).

No plate or image here: a dismissal charges nobody, and the operator role reads radars only.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Select,
    String,
    Table,
    and_,
    literal,
    or_,
    select,
    true,
    union_all,
)

from speedledger.central.infractions.projection import section_dismissals, violations
from speedledger.central.sections.lookup import sections_entered_at


class DismissedViolation(BaseModel):
    """A dismissed spot violation, or a dismissed section pair (then the exit passage's ids and times)."""

    event_id: str
    radar_id: str
    seq: int
    detected_at_ms: int
    received_at_ms: int
    #: An `infractions.domain.DismissalReason`.
    reason: str
    #: The section whose pair was dismissed; null for a spot violation.
    section_id: str | None = None


def list_dismissed(
    conn: Connection,
    *,
    reason: str | None = None,
    radar_id: str | None = None,
    after: tuple[int, str] | None = None,
    limit: int = 50,
) -> list[DismissedViolation]:
    """Spot violations and section pairs together, oldest detection first, then by event_id; `after` is the
    (detected_at_ms, event_id) of the last one seen. `radar_id` matches a pair's entry radar as well as its
    exit radar (the one it is listed under)."""
    spot_conditions: list[ColumnElement[bool]] = [violations.c.outcome == "dismissed"]
    section_conditions: list[ColumnElement[bool]] = []
    if radar_id is not None:
        spot_conditions.append(violations.c.radar_id == radar_id)
        section_conditions.append(
            or_(
                section_dismissals.c.radar_id == radar_id,
                section_dismissals.c.section_id.in_(sections_entered_at(conn, radar_id)),
            )
        )
    spot = _page(
        violations, violations.c.dismissal_reason, literal(None, String), spot_conditions, reason, after, limit
    )
    section = _page(
        section_dismissals,
        section_dismissals.c.reason,
        section_dismissals.c.section_id,
        section_conditions,
        reason,
        after,
        limit,
    )
    both = union_all(select(spot.subquery()), select(section.subquery())).subquery()
    query = select(both).order_by(both.c.detected_at_ms, both.c.event_id).limit(limit)
    return [DismissedViolation.model_validate(dict(row)) for row in conn.execute(query).mappings()]


def _page(
    table: Table,
    reason_column: Column[Any],
    section_id: ColumnElement[Any],
    conditions: list[ColumnElement[bool]],
    reason: str | None,
    after: tuple[int, str] | None,
    limit: int,
) -> Select[Any]:
    """The next `limit` dismissals of one table, as `DismissedViolation` columns."""
    if reason is not None:
        conditions.append(reason_column == reason)
    if after is not None:
        after_ms, after_id = after
        conditions.append(
            or_(
                table.c.detected_at_ms > after_ms,
                and_(table.c.detected_at_ms == after_ms, table.c.event_id > after_id),
            )
        )
    return (
        select(
            table.c.event_id,
            table.c.radar_id,
            table.c.seq,
            table.c.detected_at_ms,
            table.c.received_at_ms,
            reason_column.label("reason"),
            section_id.label("section_id"),
        )
        .where(and_(true(), *conditions))
        .order_by(table.c.detected_at_ms, table.c.event_id)
        .limit(limit)
    )
