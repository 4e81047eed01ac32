"""Real inputs for API tests: radar keys and signed violation messages (CONTRACT §1, §2)."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from speedledger.shared.canonical import dumps
from speedledger.shared.keys import key_id
from tests.fixtures.metrology import verified_body


@dataclass
class RadarKey:
    private: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public_raw).decode()

    @property
    def key_id(self) -> str:
        return key_id(self.public_raw)

    def sign(self, message: dict[str, Any]) -> dict[str, Any]:
        unsigned = {**message, "key_id": self.key_id}
        unsigned.pop("sig", None)
        signature = self.private.sign(dumps(unsigned))
        return {**unsigned, "sig": base64.b64encode(signature).decode()}


def violation(
    key: RadarKey,
    radar_id: str,
    seq: int,
    *,
    plate: str = "AB123CD",
    measured_speed_ckmh: int = 10432,
    speed_limit_kmh: int = 90,
    detected_at_ms: int = 1_764_316_800_123,
    image_sha256: str = "",
) -> dict[str, Any]:
    return key.sign(
        {
            "v": 1,
            "event_id": str(uuid.uuid4()),
            "radar_id": radar_id,
            "seq": seq,
            "detected_at_ms": detected_at_ms,
            "speed_limit_kmh": speed_limit_kmh,
            "measured_speed_ckmh": measured_speed_ckmh,
            "direction": "approaching",
            "plate": plate,
            "plate_confidence_pm": 950,
            "image_sha256": image_sha256,
            "snr_cdb": 2350,
            "frames": 14,
            "firmware": "1.0.0",
        }
    )


def radar_body(radar_id: str, key: RadarKey, speed_limit_kmh: int = 90, *, verified: bool = True) -> dict[str, Any]:
    """A `POST /api/v1/radars` body; `verified` adds a periodic verification in force (one more event)."""
    body: dict[str, Any] = {
        "radar_id": radar_id,
        "name": f"Radar {radar_id}",
        "latitude": 45.76,
        "longitude": 4.84,
        "speed_limit_kmh": speed_limit_kmh,
        "public_key": key.public_b64,
    }
    return {**body, "metrology": verified_body()} if verified else body
