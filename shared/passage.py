"""The passage message of section control (CONTRACT section 6): field spec and validation. MicroPython-safe.

A radar of a section reports every vehicle whose plate it read; central pairs an entry passage with
an exit passage. Same rules as a violation (`shared/violation.py`, whose field checks this reuses):
`validate(message)` raises `ViolationError` naming the field; unknown extra fields follow the same rule.
"""

from speedledger.shared import violation
from speedledger.shared.violation import (
    MAX_PAYLOAD_BYTES,
    MAX_SAFE_INT,
    MIN_DETECTED_AT_MS,
    SCHEMA_VERSION,
    ViolationError,
)

__all__ = ["FIELDS", "MAX_CLOCK_UNCERTAINTY_MS", "MAX_PAYLOAD_BYTES", "ViolationError", "validate"]

#: Largest clock error bound a radar may report: beyond a minute its time is not worth pairing.
MAX_CLOCK_UNCERTAINTY_MS = 60_000


def _is_read_plate(text: str) -> bool:
    return text != "" and violation.is_plate(text)


INT_FIELDS = (
    ("v", SCHEMA_VERSION, SCHEMA_VERSION),
    ("seq", 1, MAX_SAFE_INT),
    ("passed_at_ms", MIN_DETECTED_AT_MS, MAX_SAFE_INT),
    ("clock_uncertainty_ms", 0, MAX_CLOCK_UNCERTAINTY_MS),
    ("plate_confidence_pm", 0, 1000),
)

#: The violation's string fields, but a passage always has a read plate and an image.
_STRICTER = {
    "plate": ("plate", _is_read_plate, "1-12 characters of A-Z 0-9"),
    "image_sha256": ("image_sha256", violation.is_sha256_hex, "64 lowercase hex characters"),
}
STR_FIELDS = tuple(_STRICTER.get(field[0], field) for field in violation.STR_FIELDS)

FIELDS = tuple(name for name, _, _ in INT_FIELDS) + tuple(name for name, _, _ in STR_FIELDS)


def validate(message: object, signed: bool = True) -> None:
    """Raise ViolationError unless `message` is a well-formed v1 passage (`sig` absent when not `signed`)."""
    violation.check_fields(message, INT_FIELDS, STR_FIELDS, signed)
