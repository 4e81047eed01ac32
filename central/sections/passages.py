"""Recording a verified passage, sealed: the event the MQTT ingest and `RecordPassage` append.

As for a violation (`infractions/violations.py`): stream `violation-{radar_id}-{seq}` (the radar's one
seq counter, CONTRACT §6), expected version NO_STREAM, store event_id = the message's `event_id`. Unlike
a violation, the message (the bytes as received) is sealed under its retention window's key
(`retention.py`) and nothing of it is kept in the metadata.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from speedledger.central.aggregates import to_new_event
from speedledger.central.eventstore.port import NewEvent
from speedledger.central.infractions.events import violation_stream
from speedledger.central.sections.events import PassageRecorded
from speedledger.central.sections.retention import PassageWindows, Window
from speedledger.shared import fast_canonical


@dataclass(frozen=True)
class PassageRecorder:
    """Builds the (stream id, event) recording an already verified passage message (`writer.RecordBuilder`)."""

    windows: PassageWindows

    def __call__(
        self,
        message: Mapping[str, Any],
        received_at_ms: int,
        metadata: Mapping[str, Any] | None = None,
        *,
        payload: bytes | None = None,
    ) -> tuple[str, NewEvent]:
        """`payload`, the bytes as received (default: the message's canonical JSON), is what gets sealed."""
        event_id = str(message["event_id"])
        window = self.windows.window_of(int(message["passed_at_ms"]))
        raw = payload if payload is not None else fast_canonical.dumps(dict(message))
        event = PassageRecorded(
            event_id=event_id,
            radar_id=str(message["radar_id"]),
            seq=int(message["seq"]),
            passed_at_ms=int(message["passed_at_ms"]),
            plate_confidence_pm=int(message["plate_confidence_pm"]),
            image_sha256=str(message["image_sha256"]),
            received_at_ms=received_at_ms,
            key_id=str(message["key_id"]),
            window=window.subject,
            sealed=self.windows.seal(window, raw, event_id),
        )
        return violation_stream(event.radar_id, event.seq), to_new_event(event, metadata, event_id=event_id)


@dataclass(frozen=True)
class OpenedPassage:
    message: dict[str, Any]
    #: The bytes the radar sent (canonical JSON of `message` unless it sent other bytes).
    raw: bytes


def open_passage(windows: PassageWindows, event: PassageRecorded) -> OpenedPassage | None:
    """The signed passage as received, or None once forgotten."""
    raw = windows.open(Window.parse(event.window), event.sealed, event.event_id)
    if raw is None:
        return None
    return OpenedPassage(json.loads(raw), raw)
