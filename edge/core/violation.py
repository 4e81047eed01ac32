"""The violation decision and the signed message (CONTRACT sections 1-3). MicroPython-safe.

The device applies the same retained-speed rule as central (`shared/retained_speed.py`; the French
rule by default: measured minus 5 km/h below 100 km/h, minus 5 % from 100 km/h, truncated to whole
km/h) so that it publishes exactly the passes central will count, with the limit and rule of its
signed config.
"""

from speedledger.shared import canonical, keys
from speedledger.shared import violation as spec
from speedledger.shared.retained_speed import RetainedSpeedRule

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .ports import Signer

SCHEMA_VERSION = spec.SCHEMA_VERSION
_HEX = "0123456789abcdef"


class SpeedPolicy:
    """Limit and retained-speed rule the device applies; normally from the central-signed config."""

    def __init__(self, speed_limit_kmh: int, rule: RetainedSpeedRule | None = None) -> None:
        self.speed_limit_kmh = speed_limit_kmh
        self.rule = rule or RetainedSpeedRule()

    def retained_kmh(self, measured_speed_ckmh: int) -> int:
        return self.rule.retained_kmh(measured_speed_ckmh)

    def is_violation(self, measured_speed_ckmh: int) -> bool:
        return self.retained_kmh(measured_speed_ckmh) > self.speed_limit_kmh


def speed_ckmh(speed_kmh: float) -> int:
    """km/h (float from the DSP) to the contract's integer 1/100 km/h, rounded to nearest."""
    return int(speed_kmh * 100 + 0.5)


def snr_cdb(snr_db: float) -> int:
    """dB (float) to the contract's 1/100 dB, rounded and held inside the field's valid range."""
    return max(-10_000, min(20_000, int(snr_db * 100 + (0.5 if snr_db >= 0 else -0.5))))


def uuid7(unix_ms: int, random10: bytes) -> str:
    """A lowercase RFC 9562 UUIDv7: 48-bit ms timestamp, version 7, variant 10, 74 random bits."""
    if len(random10) != 10:
        raise ValueError("uuid7 needs 10 random bytes")
    raw = bytearray((unix_ms & 0xFFFFFFFFFFFF).to_bytes(6, "big"))
    raw.extend(random10)
    raw[6] = 0x70 | (raw[6] & 0x0F)
    raw[8] = 0x80 | (raw[8] & 0x3F)
    text = "".join(_HEX[byte >> 4] + _HEX[byte & 15] for byte in raw)
    return text[0:8] + "-" + text[8:12] + "-" + text[12:16] + "-" + text[16:20] + "-" + text[20:32]


def build(
    event_id: str,
    radar_id: str,
    seq: int,
    detected_at_ms: int,
    speed_limit_kmh: int,
    measured_speed_ckmh: int,
    direction: str,
    plate: str,
    plate_confidence_pm: int,
    image_sha256: str,
    snr_cdb: int,
    frames: int,
    firmware: str,
    key_id: str,
) -> dict:
    """The unsigned v1 message; raises `ViolationError` (from shared.violation) for any bad field."""
    message = {
        "v": SCHEMA_VERSION,
        "event_id": event_id,
        "radar_id": radar_id,
        "seq": seq,
        "detected_at_ms": detected_at_ms,
        "speed_limit_kmh": speed_limit_kmh,
        "measured_speed_ckmh": measured_speed_ckmh,
        "direction": direction,
        "plate": plate,
        "plate_confidence_pm": plate_confidence_pm,
        "image_sha256": image_sha256,
        "snr_cdb": snr_cdb,
        "frames": frames,
        "firmware": firmware,
        "key_id": key_id,
    }
    spec.validate(message, False)
    return message


def sign(message: dict, signer: "Signer") -> dict:
    """Add `sig`: Ed25519 over the canonical bytes without `sig` (CONTRACT section 1)."""
    if message.get("key_id") != signer.key_id:
        raise ValueError("message key_id does not match the signer's key")
    signature = signer.sign(canonical.signing_bytes(message))
    signed = dict(message)
    signed["sig"] = keys.b64encode(signature)
    return signed


def payload(signed: dict) -> bytes:
    """The exact bytes published (and journaled): the canonical JSON of the signed message."""
    return canonical.dumps(signed)
