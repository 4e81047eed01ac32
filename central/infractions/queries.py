"""Read side of the infractions context: filtered, keyset-paginated lists and one infraction in full."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, TypeAdapter
from sqlalchemy import ColumnElement, Connection, and_, exists, or_, select

from speedledger.central.errors import Invalid
from speedledger.central.infractions.domain import InfractionKind, InfractionStatus
from speedledger.central.infractions.projection import infraction_history, infractions, violations
from speedledger.central.registration.lookup import owner_name
from speedledger.central.registration.personal_data import PersonalDataCipher
from speedledger.shared.plates import normalise

MAX_PAGE = 500
DEFAULT_PAGE = 50


class InfractionView(BaseModel):
    infraction_id: str
    event_id: str
    radar_id: str
    seq: int
    plate: str
    #: None for an unidentified infraction.
    owner_id: str | None
    status: InfractionStatus
    unidentified_reason: str | None
    detected_at_ms: int
    direction: str
    #: Central's limit at detection time (governs); the device's own value and whether they differ.
    speed_limit_kmh: int
    device_speed_limit_kmh: int
    limit_mismatch: bool
    measured_speed_kmh: float
    measured_speed_ckmh: int
    retained_speed_kmh: int
    excess_kmh: int
    fine_eur: int
    points: int
    fine_schedule: str
    image_sha256: str
    plate_confidence_pm: int
    issued_at_ms: int
    updated_at_ms: int
    #: `section`: average speed between two radars (CONTRACT §6); the four fields below are then set.
    kind: InfractionKind
    section_id: str | None = None
    entry_event_id: str | None = None
    exit_event_id: str | None = None
    average_speed_kmh: int | None = None


class StatusChange(BaseModel):
    status: InfractionStatus
    reason: str
    actor: str
    at_ms: int


class InfractionDetail(InfractionView):
    #: The owner's name, None when unidentified or erased.
    owner_name: str | None
    owner_erased: bool
    history: list[StatusChange]
    #: The radar's signed message exactly as received (verifiable offline with the radar's key); for a
    #: section infraction the exit passage, with the entry passage in `entry_device_message`.
    device_message: dict[str, Any]
    entry_device_message: dict[str, Any] | None = None
    #: When central received the violation (None for a section infraction).
    received_at_ms: int | None


class InfractionPage(BaseModel):
    items: list[InfractionView]
    next_cursor: str | None


#: What a list reads: the columns an `InfractionView` shows and no more (not the section's signed
#: messages, JSON), built once rather than per request.
_LIST = select(*(column for column in infractions.c if column.name in InfractionView.model_fields)).order_by(
    infractions.c.detected_at_ms.desc(), infractions.c.infraction_id.desc()
)
_LIST_KEYS = tuple(column.name for column in _LIST.selected_columns)
#: A page's rows validated in one call, not one per row.
_ITEMS = TypeAdapter(list[InfractionView])


def list_infractions(
    conn: Connection,
    *,
    plate: str | None = None,
    owner_id: str | None = None,
    radar_id: str | None = None,
    status: InfractionStatus | None = None,
    kind: InfractionKind | None = None,
    from_ms: int | None = None,
    to_ms: int | None = None,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
) -> InfractionPage:
    """Newest first; `from_ms` inclusive, `to_ms` exclusive on detected_at_ms; Invalid for a bad cursor/limit."""
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE}")
    conditions = []
    if plate is not None:
        conditions.append(infractions.c.plate == normalise(plate))
    if owner_id is not None:
        conditions.append(infractions.c.owner_id == owner_id)
    if radar_id is not None:
        conditions.append(infractions.c.radar_id == radar_id)
    if status is not None:
        conditions.append(infractions.c.status == status)
    if kind is not None:
        conditions.append(infractions.c.kind == kind)
    if from_ms is not None:
        conditions.append(infractions.c.detected_at_ms >= from_ms)
    if to_ms is not None:
        conditions.append(infractions.c.detected_at_ms < to_ms)
    if cursor is not None:
        after_ms, after_id = _decode_cursor(cursor)
        conditions.append(
            or_(
                infractions.c.detected_at_ms < after_ms,
                and_(infractions.c.detected_at_ms == after_ms, infractions.c.infraction_id < after_id),
            )
        )
    rows = conn.execute(_LIST.where(*conditions).limit(limit + 1)).all()
    items = _ITEMS.validate_python([_fields(zip(_LIST_KEYS, row, strict=True)) for row in rows[:limit]])
    next_cursor = _encode_cursor(items[-1]) if len(rows) > limit else None
    return InfractionPage(items=items, next_cursor=next_cursor)


def in_section_infraction(event_id: ColumnElement[str] | str) -> ColumnElement[bool]:
    """SQL: the passage `event_id` (a column to correlate with, or a value) is the entry or the exit of a
    section infraction (the exit is the infraction's `event_id`)."""
    return exists().where(
        infractions.c.kind == InfractionKind.SECTION.value,
        or_(infractions.c.entry_event_id == event_id, infractions.c.event_id == event_id),
    )


def get_infraction(conn: Connection, infraction_id: str, cipher: PersonalDataCipher) -> InfractionDetail | None:
    """The infraction with its status history, the device's message and the owner's name (opened with
    the owner's key; None once erased)."""
    row = (
        conn.execute(
            select(infractions, violations.c.message.label("violation_message"), violations.c.received_at_ms)
            .outerjoin(violations, violations.c.event_id == infractions.c.event_id)
            .where(infractions.c.infraction_id == infraction_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    owner = owner_name(conn, row["owner_id"], cipher) if row["owner_id"] is not None else None
    history = conn.execute(
        select(
            infraction_history.c.status,
            infraction_history.c.reason,
            infraction_history.c.actor,
            infraction_history.c.at_ms,
        )
        .where(infraction_history.c.infraction_id == infraction_id)
        .order_by(infraction_history.c.position)
    ).mappings()
    return InfractionDetail.model_validate(
        {
            **_fields(dict(row)),
            "owner_name": owner.name if owner else None,
            "owner_erased": owner.erased if owner else False,
            "history": [dict(change) for change in history],
            "device_message": row["violation_message"] or row["exit_message"],
            "entry_device_message": row["entry_message"],
            "received_at_ms": row["received_at_ms"],
        }
    )


def _fields(row: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """A row's columns as the view's fields (one copy: a list builds 50 of them)."""
    fields = dict(row)
    fields["measured_speed_kmh"] = fields["measured_speed_ckmh"] / 100
    return fields


def _encode_cursor(last: InfractionView) -> str:
    return base64.urlsafe_b64encode(f"{last.detected_at_ms}:{last.infraction_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        detected_at_ms, _, infraction_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        after_ms = int(detected_at_ms)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise Invalid("invalid cursor") from error
    if not 0 <= after_ms < 2**63:  # a forged cursor must not overflow the BIGINT column (a 500)
        raise Invalid("invalid cursor")
    return after_ms, infraction_id
