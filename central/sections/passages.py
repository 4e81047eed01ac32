"""Recording a verified passage: the event the MQTT ingest and `RecordPassage` append.

As for a violation (`infractions/violations.py`): stream `violation-{radar_id}-{seq}` (the radar's one
seq counter, CONTRACT §6), expected version NO_STREAM, store event_id = the message's `event_id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from speedledger.central.aggregates import to_new_event
from speedledger.central.eventstore.port import NewEvent
from speedledger.central.infractions.events import violation_stream
from speedledger.central.infractions.violations import with_received_payload
from speedledger.central.sections.events import PassageRecorded


def passage_recorded(
    message: Mapping[str, Any],
    received_at_ms: int,
    metadata: Mapping[str, Any] | None = None,
    *,
    payload: bytes | None = None,
) -> tuple[str, NewEvent]:
    """The stream id and event recording an already verified passage message (kept whole, `sig` too);
    `payload` as for a violation (kept when not canonical)."""
    metadata = with_received_payload(message, metadata, payload)
    event = PassageRecorded(message=dict(message), received_at_ms=received_at_ms, key_id=str(message["key_id"]))
    return violation_stream(str(message["radar_id"]), int(message["seq"])), to_new_event(
        event, metadata, event_id=str(message["event_id"])
    )
