"""The violation message (CONTRACT section 2): field spec and validation. MicroPython-safe.

The radar validates what it is about to sign and central validates what it received with the same
rules, so a message one side accepts the other side accepts too. `validate(message)` checks every
field's presence, type and range on an already decoded dict and raises `ViolationError` naming the
field; strict JSON decoding (duplicate keys, size) happens before, on the receiving side.

Imports nothing MicroPython lacks: no `typing` at run time, no `re` counted repeats.
"""

SCHEMA_VERSION = 1
#: Largest violation payload central accepts, in bytes (CONTRACT section 2).
MAX_PAYLOAD_BYTES = 64 * 1024
#: Earliest plausible detection time (2000-01-01 UTC): a radar whose clock lost power reports 1970.
MIN_DETECTED_AT_MS = 946_684_800_000
#: Largest integer every JSON implementation and both stores keep exactly (2**53 - 1).
MAX_SAFE_INT = 9_007_199_254_740_991
DIRECTIONS = ("approaching", "receding")
SIG_B64_LENGTH = 88  # base64 of 64 bytes, with "==" padding

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

_HEX = "0123456789abcdef"
_UPPER_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_RADAR_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-"
_B64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


class ViolationError(ValueError):
    """The message breaks the field spec; `field` names the offending field."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(field + ": " + detail)
        self.field = field
        self.detail = detail


def _only(text: str, allowed: str) -> bool:
    # A loop, not all() over a generator: about twice as fast on CPython, where central checks every
    # character of every message it receives.
    for char in text:  # noqa: SIM110
        if char not in allowed:
            return False
    return True


def is_radar_id(text: object) -> bool:
    """`[A-Za-z0-9-]{1,32}`."""
    return isinstance(text, str) and 1 <= len(text) <= 32 and _only(text, _RADAR_ID_CHARS)


def is_event_id(text: object) -> bool:
    """A lowercase UUID in its 36-character form."""
    if not isinstance(text, str) or len(text) != 36:
        return False
    for index, char in enumerate(text):
        if index in (8, 13, 18, 23):
            if char != "-":
                return False
        elif char not in _HEX:
            return False
    return True


def is_sha256_hex(text: object) -> bool:
    return isinstance(text, str) and len(text) == 64 and _only(text, _HEX)


def is_key_id(text: object) -> bool:
    return isinstance(text, str) and len(text) == 16 and _only(text, _HEX)


def _is_sig(text: str) -> bool:
    return len(text) == SIG_B64_LENGTH and text[-2:] == "==" and _only(text[:-2], _B64_CHARS)


def _is_printable(text: str) -> bool:
    for char in text:  # noqa: SIM110 - a loop, as in _only
        if not " " <= char <= "~":
            return False
    return True


def is_plate(text: str) -> bool:
    return len(text) <= 12 and _only(text, _UPPER_ALNUM)


def _is_image_sha256(text: str) -> bool:
    return text == "" or is_sha256_hex(text)


def _is_firmware(text: str) -> bool:
    return 1 <= len(text) <= 64 and _is_printable(text)


# (field, low, high) for integers; booleans never count as integers.
INT_FIELDS = (
    ("v", SCHEMA_VERSION, SCHEMA_VERSION),
    ("seq", 1, MAX_SAFE_INT),
    ("detected_at_ms", MIN_DETECTED_AT_MS, MAX_SAFE_INT),
    ("speed_limit_kmh", 1, 300),
    ("measured_speed_ckmh", 0, 100_000),
    ("plate_confidence_pm", 0, 1000),
    ("snr_cdb", -10_000, 20_000),
    ("frames", 1, 1_000_000),
)

# (field, check, what the check wants) for strings.
STR_FIELDS = (
    ("event_id", is_event_id, "a lowercase 36-character UUID"),
    ("radar_id", is_radar_id, "1-32 characters of A-Z a-z 0-9 -"),
    ("direction", lambda text: text in DIRECTIONS, "approaching or receding"),
    ("plate", is_plate, "0-12 characters of A-Z 0-9"),
    ("image_sha256", _is_image_sha256, "empty or 64 lowercase hex characters"),
    ("firmware", _is_firmware, "1-64 printable ASCII characters"),
    ("key_id", is_key_id, "16 lowercase hex characters"),
    ("sig", _is_sig, "base64 of a 64-byte Ed25519 signature"),
)

FIELDS = tuple(name for name, _, _ in INT_FIELDS) + tuple(name for name, _, _ in STR_FIELDS)
#: Fields added by later, compatible releases must look like this (and are covered by the signature).
_EXTRA_FIELD_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"
MAX_EXTRA_FIELDS = 16


def _is_plain_int(value: object) -> bool:
    return isinstance(value, int) and value is not True and value is not False


def _check_extra(name: object, value: object) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= 32 or not _only(name, _EXTRA_FIELD_CHARS):
        raise ViolationError(str(name)[:40], "unknown field name")
    if isinstance(value, str):
        if not _is_printable(value):
            raise ViolationError(name, "optional string fields must be printable ASCII")
    elif not _is_plain_int(value):
        raise ViolationError(name, "optional fields must be strings or integers")


def validate(message: object, signed: bool = True) -> None:
    """Raise ViolationError unless `message` is a well-formed v1 violation.

    With `signed=False` (the radar, before signing) the `sig` field must be absent instead.
    """
    check_fields(message, INT_FIELDS, STR_FIELDS, signed)


def check_fields(
    message: object,
    int_fields: "tuple[tuple[str, int, int], ...]",
    str_fields: "tuple[tuple[str, Callable[[str], bool], str], ...]",
    signed: bool,
) -> None:
    """Raise ViolationError unless `message` holds every field of the two specs, extras as allowed.

    The rule shared by every signed message (violations, passages): `int_fields` as (name, low, high),
    `str_fields` as (name, check, wanted); `sig` must be absent when not `signed`.
    """
    if not isinstance(message, dict):
        raise ViolationError("$", "the message must be a JSON object")
    for name, low, high in int_fields:
        if name not in message:
            raise ViolationError(name, "missing")
        value = message[name]
        if not _is_plain_int(value):
            raise ViolationError(name, "must be an integer")
        if not low <= value <= high:
            raise ViolationError(name, "must be between " + str(low) + " and " + str(high))
    for name, check, wanted in str_fields:
        if name == "sig" and not signed:
            if name in message:
                raise ViolationError(name, "must be absent before signing")
            continue
        if name not in message:
            raise ViolationError(name, "missing")
        value = message[name]
        if not isinstance(value, str):
            raise ViolationError(name, "must be a string")
        if not check(value):
            raise ViolationError(name, "must be " + wanted)
    known = [name for name, _, _ in int_fields] + [name for name, _, _ in str_fields]
    extras = [name for name in message if name not in known]
    if len(extras) > MAX_EXTRA_FIELDS:
        raise ViolationError("$", "too many unknown fields")
    for name in extras:
        _check_extra(name, message[name])
