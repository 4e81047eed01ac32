"""Everything decided about one arriving message before it touches the database (CPU only).

`check_signed` runs the contract's checks on a violation or a passage (`kinds.py`), in order: size,
strict JSON, field spec, topic/radar match, radar known, key known and not revoked, Ed25519 signature
over the canonical bytes, clock skew. What passes becomes an append request for its recorded event
(`ViolationRecorded`, `PassageRecorded`); what fails a `Rejected` with a stable reason. Store-side
checks (duplicate event_id, seq reuse) happen at append time.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature

from speedledger.central.ingest.kinds import VIOLATION, SignedKind
from speedledger.central.ingest.parse import Rejected, decode_signed
from speedledger.central.ingest.reasons import Reason
from speedledger.central.radars.lookup import RadarKey, RadarState
from speedledger.shared import fast_canonical, keys

#: Strongly consistent lookup of a registered radar (None when unknown), e.g. `radars.lookup.load_radar`.
RadarLookup = Callable[[str], RadarState | None]
#: Given the radar ids a batch names, a lookup for them, e.g. `radars.lookup.radar_cache(store).lookup`.
RadarLookups = Callable[[Collection[str]], RadarLookup]


@dataclass(frozen=True)
class Verified:
    """A signed message of `kind` that passed every check; `revoked_key` marks one signed by a since-revoked key.

    Such a message is only answered `duplicate` when its event_id is already recorded (a re-send of
    something accepted before the revocation); otherwise it is rejected as `revoked_key`.
    """

    message: dict[str, Any]
    revoked_key: bool = False
    kind: SignedKind = VIOLATION


def signature_verifies(public_key: bytes, message: dict[str, Any]) -> bool:
    """Whether `sig` is a valid Ed25519 signature by `public_key` over the message's canonical bytes."""
    try:
        RadarKey.verifier_for(public_key).verify(keys.b64decode(message["sig"]), fast_canonical.signing_bytes(message))
    except (InvalidSignature, ValueError):
        return False
    return True


def check_signed(
    kind: SignedKind, topic_radar_id: str, payload: bytes, received_at_ms: int, radar: RadarLookup, max_skew_ms: int
) -> Verified:
    """Raise Rejected, or return the verified message."""
    message = decode_signed(payload, kind)
    event_id, seq = message["event_id"], message["seq"]
    if message["radar_id"] != topic_radar_id:
        raise Rejected(Reason.TOPIC_MISMATCH, f"message radar_id {message['radar_id']!r} on this topic", event_id, seq)
    known = radar(topic_radar_id)
    if known is None:
        raise Rejected(Reason.UNKNOWN_RADAR, f"radar {topic_radar_id!r} is not registered", event_id, seq)
    key = known.key(message["key_id"])
    if key is None:
        raise Rejected(Reason.UNKNOWN_KEY, f"radar {topic_radar_id} has no key {message['key_id']}", event_id, seq)
    if not signature_verifies(key.public_key, message):
        reason = Reason.REVOKED_KEY if key.revoked else Reason.BAD_SIGNATURE
        raise Rejected(reason, f"the signature does not verify with key {key.key_id}", event_id, seq)
    skew = message[kind.time_field] - received_at_ms
    if skew > max_skew_ms:
        raise Rejected(
            Reason.CLOCK_SKEW, f"{kind.time_field} {skew} ms ahead of central (max {max_skew_ms})", event_id, seq
        )
    return Verified(message, revoked_key=key.revoked, kind=kind)
