"""The kinds of signed radar message the ingest takes: violations (CONTRACT §2) and passages (§6).

Both are checked, stored, acknowledged and quarantined the same way; they differ only in their topic,
their field spec and the field that carries the device's time (checked against the clock-skew bound).
They share the radar's `seq` counter: both are recorded on stream `violation-{radar_id}-{seq}`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from speedledger.shared import passage, violation


@dataclass(frozen=True)
class SignedKind:
    #: `Checked.kind`, the metrics' `kind` label and the key of the event builders (`writer.RecordBuilders`).
    name: str
    #: The topic segment after `speedledger/v1/radars/{radar_id}/`.
    topic: str
    #: Raises `violation.ViolationError` naming the field.
    validate: Callable[[object], None]
    #: The device's time of the fact, at most `max_skew_ms` ahead of central's clock.
    time_field: str


VIOLATION = SignedKind("violation", "violations", violation.validate, "detected_at_ms")
PASSAGE = SignedKind("passage", "passages", passage.validate, "passed_at_ms")
SIGNED_KINDS = (VIOLATION, PASSAGE)
#: Topic segment -> kind.
BY_TOPIC = {kind.topic: kind for kind in SIGNED_KINDS}
