"""What an arriving message is and what should become of it, decided before any database write.

`classify` reads the topic: a violation or a passage goes through every check of `checks.check_signed`;
evidence must name a lowercase UUID, stay within the size limit, be a JPEG and come from a
registered radar; a status (a radar's or a central worker's) must be well formed; any other topic
is refused. The outcome is what the batch writer stores: a `Verified` violation or passage, a `Rejected`
message with its reason, an `EvidenceImage` or a `Status`. Radars come from a lookup the pipeline
has filled for the batch, so classifying is CPU work only and may run on several threads.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace

from speedledger.central.ingest.checks import RadarLookup, Verified, check_signed
from speedledger.central.ingest.kinds import BY_TOPIC
from speedledger.central.ingest.mqtt import Received
from speedledger.central.ingest.parse import Rejected, decode_json_object, topic_parts
from speedledger.central.ingest.reasons import Reason
from speedledger.central.ingest.settings import IngestLimits
from speedledger.shared import topics, violation

log = logging.getLogger(__name__)

JPEG_MAGIC = b"\xff\xd8\xff"
#: First topic segment after the radar id -> kind of message (metrics label, ack or not).
_KINDS = {"evidence": "evidence", "status": "status", **{topic: kind.name for topic, kind in BY_TOPIC.items()}}


@dataclass(frozen=True)
class EvidenceImage:
    event_id: str
    sha256: str
    content: bytes


@dataclass(frozen=True)
class Status:
    kind: str  # "radar" or "central"
    node_id: str
    online: bool
    at_ms: int | None
    firmware: str | None


@dataclass(frozen=True)
class Checked:
    received: Received
    kind: str  # "violation", "passage", "evidence", "status"
    radar_id: str | None  # from the topic
    outcome: Verified | Rejected | EvidenceImage | Status | None  # None: nothing to do (cleared retained)
    #: The topic's radar is registered: only then does a message count as the radar being seen.
    registered: bool = False


def classify(received: Received, radar: RadarLookup, limits: IngestLimits) -> Checked:
    """The message's kind, radar and outcome; never raises (an unexpected error is a `malformed` refusal)."""
    checked = _classify(received, radar, limits)
    radar_id = checked.radar_id
    if radar_id is not None and violation.is_radar_id(radar_id) and radar(radar_id) is not None:
        return replace(checked, registered=True)
    return checked


def _classify(received: Received, radar: RadarLookup, limits: IngestLimits) -> Checked:
    topic = received.topic
    try:
        node = topics.central_client_id(topic)
        if node is not None:
            return Checked(received, "status", None, _status("central", node, received))
        radar_id, rest = topic_parts(topic)
    except Rejected as rejected:
        return Checked(received, "status" if topic.startswith(topics.CENTRAL_ROOT) else "unknown", None, rejected)
    try:
        if len(rest) == 1 and rest[0] in BY_TOPIC:
            kind = BY_TOPIC[rest[0]]
            verified = check_signed(
                kind, radar_id, received.payload, received.received_at_ms, radar, limits.max_skew_ms
            )
            return Checked(received, kind.name, radar_id, verified)
        if len(rest) == 2 and rest[0] == "evidence":
            return Checked(received, "evidence", radar_id, _evidence(radar_id, rest[1], received, radar, limits))
        if rest == ["status"]:
            if radar(radar_id) is None:
                raise Rejected(Reason.UNKNOWN_RADAR, f"status of unregistered radar {radar_id!r}")
            return Checked(received, "status", radar_id, _status("radar", radar_id, received))
        raise Rejected(Reason.BAD_TOPIC, "no such topic in the contract")
    except Rejected as rejected:
        return Checked(received, _KINDS.get(rest[0] if rest else "", "unknown"), radar_id, rejected)
    except Exception as error:  # a bug must not stop the consumer: keep the message, say why
        log.exception("unexpected error checking a message on %s", topic)
        return Checked(received, "unknown", radar_id, Rejected(Reason.MALFORMED, f"unexpected: {error!r}"[:200]))


def _evidence(
    radar_id: str, event_id: str, received: Received, radar: RadarLookup, limits: IngestLimits
) -> EvidenceImage:
    if not violation.is_event_id(event_id):
        raise Rejected(Reason.BAD_TOPIC, "evidence topic must end in a lowercase UUID event_id")
    size, limit = len(received.payload), limits.max_evidence_bytes
    if size > limit:
        raise Rejected(Reason.EVIDENCE_OVERSIZED, f"{size} bytes > {limit}", event_id)
    if not received.payload.startswith(JPEG_MAGIC):
        raise Rejected(Reason.MALFORMED, "evidence is not a JPEG image", event_id)
    if radar(radar_id) is None:
        raise Rejected(Reason.UNKNOWN_RADAR, f"radar {radar_id!r} is not registered", event_id)
    return EvidenceImage(event_id, hashlib.sha256(received.payload).hexdigest(), received.payload)


def _status(kind: str, node_id: str, received: Received) -> Status | None:
    if not received.payload:
        return None  # a retained status being cleared
    body = decode_json_object(received.payload)
    state, at_ms, firmware = body.get("state"), body.get("at_ms"), body.get("firmware")
    if state not in ("online", "offline"):
        raise Rejected(Reason.BAD_STATUS, "state must be online or offline")
    if at_ms is not None and type(at_ms) is not int:
        raise Rejected(Reason.BAD_STATUS, "at_ms must be an integer")
    if firmware is not None and (not isinstance(firmware, str) or len(firmware) > 64):
        raise Rejected(Reason.BAD_STATUS, "firmware must be a string of at most 64 characters")
    return Status(kind, node_id, state == "online", at_ms, firmware)
