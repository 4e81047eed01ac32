"""Read side of the sections context: plain functions over a SQLAlchemy connection, returning API schemas."""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Connection, Table, select, true

from speedledger.central.radars.queries import SpeedLimitPeriod
from speedledger.central.sections.domain import max_travel_ms
from speedledger.central.sections.pairing import section_ambiguities
from speedledger.central.sections.projection import section_speed_limits, sections
from speedledger.central.sections.retention import PassageWindows, Window


class SectionView(BaseModel):
    section_id: str
    entry_radar_id: str
    exit_radar_id: str
    distance_m: int
    speed_limit_kmh: int
    #: The pairing window: an exit later than this after the entry is not paired with it.
    max_travel_ms: int
    created_at_ms: int
    updated_at_ms: int
    speed_limit_history: list[SpeedLimitPeriod]


def list_sections(conn: Connection) -> list[SectionView]:
    """Every section with its limit history (two queries, whatever the number of sections)."""
    return _views(conn, None)


def get_section(conn: Connection, section_id: str) -> SectionView | None:
    views = _views(conn, section_id)
    return views[0] if views else None


def _views(conn: Connection, section_id: str | None) -> list[SectionView]:
    def only(table: Table) -> ColumnElement[bool]:
        return true() if section_id is None else table.c.section_id == section_id

    rows = conn.execute(select(sections).where(only(sections)).order_by(sections.c.section_id)).mappings().all()
    limits: dict[str, list[SpeedLimitPeriod]] = defaultdict(list)
    for limit in conn.execute(
        select(section_speed_limits)
        .where(only(section_speed_limits))
        .order_by(section_speed_limits.c.effective_from_ms)
    ).mappings():
        limits[limit["section_id"]].append(SpeedLimitPeriod.model_validate(dict(limit)))
    return [
        SectionView.model_validate(
            {
                **row,
                "max_travel_ms": max_travel_ms(row["distance_m"]),
                "speed_limit_history": limits[row["section_id"]],
            }
        )
        for row in rows
    ]


class AmbiguityView(BaseModel):
    """Passages of one plate that gave no infraction, for an operator to see: they could pair in more than one
    way, or their pair was dismissed (`reason`)."""

    section_id: str
    #: The passage whose arrival revealed it.
    event_id: str
    #: Null once the passage's retention window has closed (forgotten, as the passages are).
    plate: str | None
    #: "several_candidates", "after_pairing" (arrived once the pair was decided), "already_in_infraction",
    #: "radar_inactive" or "radar_not_verified" (over the limit, dismissed: a radar was not active, or had no
    #: verification in force, at its passage).
    reason: str
    passed_at_ms: int
    event_ids: list[str]


def list_ambiguities(conn: Connection, section_id: str, windows: PassageWindows) -> list[AmbiguityView]:
    """Oldest first; the plate opened with its retention window's key while it exists."""
    rows = conn.execute(
        select(section_ambiguities)
        .where(section_ambiguities.c.section_id == section_id)
        .order_by(section_ambiguities.c.passed_at_ms, section_ambiguities.c.event_id)
    ).mappings()
    return [
        AmbiguityView(
            section_id=row["section_id"],
            event_id=row["event_id"],
            plate=_plate(windows, row["window"], row["plate_sealed"], row["event_id"]),
            reason=row["reason"],
            passed_at_ms=row["passed_at_ms"],
            event_ids=row["event_ids"],
        )
        for row in rows
    ]


def _plate(windows: PassageWindows, window: str, sealed: str | None, event_id: str) -> str | None:
    plate = windows.open(Window.parse(window), sealed, event_id)
    return plate.decode() if plate is not None else None
