"""Everything decided about one arriving message before it touches the database (CPU only).

`check_violation` runs the contract's checks in order: size, strict JSON, field spec, topic/radar
match, radar known, key known and not revoked, Ed25519 signature over the canonical bytes, clock
skew. What passes becomes an append request for `ViolationRecorded`; what fails a `Rejected` with a
stable reason. Store-side checks (duplicate event_id, seq reuse) happen at append time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature

from speedledger.central.infractions.violations import SignatureRejected, verify_signature
from speedledger.central.ingest.parse import Rejected, decode_violation
from speedledger.central.ingest.reasons import Reason
from speedledger.central.radars.domain import RadarKey, RadarState
from speedledger.shared import canonical, keys

#: Strongly consistent lookup of a registered radar (None when unknown), e.g. `radars.handlers.load_radar`.
RadarLookup = Callable[[str], RadarState | None]


@dataclass(frozen=True)
class Verified:
    """A violation that passed every check; `revoked_key` marks one signed by a since-revoked key.

    Such a message is only answered `duplicate` when its event_id is already recorded (a re-send of
    something accepted before the revocation); otherwise it is rejected as `revoked_key`.
    """

    message: dict[str, Any]
    revoked_key: bool = False


def _signed_by(key: RadarKey, message: dict[str, Any]) -> bool:
    try:
        key.verifier().verify(keys.b64decode(message["sig"]), canonical.signing_bytes(message))
    except (InvalidSignature, ValueError, canonical.CanonicalError):
        return False
    return True


def check_violation(
    topic_radar_id: str, payload: bytes, received_at_ms: int, radar: RadarLookup, max_skew_ms: int
) -> Verified:
    """Raise Rejected, or return the verified message."""
    message = decode_violation(payload)
    event_id, seq = message["event_id"], message["seq"]
    if message["radar_id"] != topic_radar_id:
        raise Rejected(Reason.TOPIC_MISMATCH, f"message radar_id {message['radar_id']!r} on this topic", event_id, seq)
    known = radar(topic_radar_id)
    if known is None:
        raise Rejected(Reason.UNKNOWN_RADAR, f"radar {topic_radar_id!r} is not registered", event_id, seq)
    revoked_key = False
    try:
        verify_signature(message, known)
    except SignatureRejected as refused:
        key = known.key(message["key_id"])
        revoked_key = refused.reason == Reason.REVOKED_KEY and key is not None and _signed_by(key, message)
        if not revoked_key:
            raise Rejected(Reason(refused.reason), str(refused), event_id, seq) from None
    skew = message["detected_at_ms"] - received_at_ms
    if skew > max_skew_ms:
        raise Rejected(
            Reason.CLOCK_SKEW, f"detected_at_ms {skew} ms ahead of central (max {max_skew_ms})", event_id, seq
        )
    return Verified(message, revoked_key)
