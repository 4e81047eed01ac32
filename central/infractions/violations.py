"""Recording a verified violation: the one event both the MQTT ingest and `RecordViolation` append.

`violation_recorded(message, received_at_ms)` gives the (stream_id, NewEvent) pair: stream
`violation-{radar_id}-{seq}`, appended with expected_version NO_STREAM, with the store event_id equal
to the message's `event_id`. So the same event_id again is a DuplicateEvent ("duplicate"), and the
same radar+seq under another event_id is a WrongExpectedVersion ("seq reuse").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature

from speedledger.central.aggregates import to_new_event
from speedledger.central.eventstore.port import NewEvent
from speedledger.central.infractions.events import ViolationRecorded, violation_stream
from speedledger.central.radars.lookup import RadarState
from speedledger.shared import fast_canonical, keys


class SignatureRejected(ValueError):
    """The message does not verify with the radar's keys; `reason` is "unknown_key", "revoked_key"
    or "bad_signature" (the ingest's quarantine reason codes)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


#: Metadata key of the bytes a radar sent, kept only when they are not the message's canonical JSON.
PAYLOAD_METADATA = "payload_b64"


def with_received_payload(
    message: Mapping[str, Any], metadata: Mapping[str, Any] | None, payload: bytes | None
) -> Mapping[str, Any] | None:
    """`metadata` plus the bytes as received (base64, `PAYLOAD_METADATA`) when they are not the message's
    canonical JSON, so an export can give a signed radar message exactly as received."""
    if payload is not None and payload != fast_canonical.dumps(dict(message)):
        return {**(metadata or {}), PAYLOAD_METADATA: keys.b64encode(payload)}
    return metadata


def violation_recorded(
    message: Mapping[str, Any],
    received_at_ms: int,
    metadata: Mapping[str, Any] | None = None,
    *,
    payload: bytes | None = None,
) -> tuple[str, NewEvent]:
    """The stream id and event recording an already verified violation message (kept whole, `sig` too).

    `metadata` (e.g. `{"via": "mqtt"}`) is stored beside the event. `payload`, the bytes as received, is
    kept there too (base64, `PAYLOAD_METADATA`) when the radar did not send canonical JSON, so evidence
    exports give the bytes exactly as received (`received_payload`).
    """
    metadata = with_received_payload(message, metadata, payload)
    event = ViolationRecorded(message=dict(message), received_at_ms=received_at_ms, key_id=str(message["key_id"]))
    return violation_stream(str(message["radar_id"]), int(message["seq"])), to_new_event(
        event, metadata, event_id=str(message["event_id"])
    )


def received_payload(message: Mapping[str, Any], metadata: Mapping[str, Any]) -> bytes:
    """The violation's bytes as the radar sent them: its canonical JSON, unless the event kept other bytes."""
    kept = metadata.get(PAYLOAD_METADATA)
    return keys.b64decode(str(kept)) if kept is not None else fast_canonical.dumps(dict(message))


def verify_signature(message: Mapping[str, Any], radar: RadarState) -> None:
    """Check the Ed25519 signature with the radar's key named by `key_id`; revoked keys are refused."""
    key = radar.key(str(message["key_id"]))
    if key is None:
        raise SignatureRejected("unknown_key", f"radar {radar.radar_id} has no key {message['key_id']}")
    if key.revoked:
        raise SignatureRejected("revoked_key", f"key {key.key_id} of radar {radar.radar_id} is revoked")
    try:
        key.verifier().verify(keys.b64decode(str(message["sig"])), fast_canonical.signing_bytes(message))
    except (InvalidSignature, ValueError, fast_canonical.CanonicalError) as error:
        raise SignatureRejected("bad_signature", "the signature does not verify over the canonical bytes") from error
