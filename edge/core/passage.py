"""The signed passage of section control (CONTRACT §6). MicroPython-safe.

Built, signed and journaled like a violation (`violation.py`: same signature, same canonical bytes,
same journal and seq counter); the outbox publishes it on `passages` instead of `violations`.
"""

import json

from speedledger.shared import passage as spec


def build(
    event_id: str,
    radar_id: str,
    seq: int,
    passed_at_ms: int,
    clock_uncertainty_ms: int,
    direction: str,
    plate: str,
    plate_confidence_pm: int,
    image_sha256: str,
    firmware: str,
    key_id: str,
) -> dict:
    """The unsigned v1 passage; raises `ViolationError` (from shared.violation) for any bad field."""
    message = {
        "v": spec.SCHEMA_VERSION,
        "event_id": event_id,
        "radar_id": radar_id,
        "seq": seq,
        "passed_at_ms": passed_at_ms,
        "clock_uncertainty_ms": clock_uncertainty_ms,
        "direction": direction,
        "plate": plate,
        "plate_confidence_pm": plate_confidence_pm,
        "image_sha256": image_sha256,
        "firmware": firmware,
        "key_id": key_id,
    }
    spec.validate(message, False)
    return message


def is_passage(payload: bytes) -> bool:
    """Whether journaled bytes are a passage (they carry `passed_at_ms`) rather than a violation."""
    return "passed_at_ms" in json.loads(payload)
