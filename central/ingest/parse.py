"""Strict decoding of what arrives on the wire, before any field rule (shared/violation.py, passage.py) applies."""

from __future__ import annotations

import json
from typing import Any

from speedledger.central.ingest.kinds import VIOLATION, SignedKind
from speedledger.central.ingest.reasons import Reason
from speedledger.shared import topics, violation


class Rejected(Exception):
    """The message is refused for `reason`; `event_id` is set when the payload named a well-formed one."""

    def __init__(self, reason: Reason, detail: str, event_id: str | None = None, seq: int | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.event_id = event_id
        self.seq = seq


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_json_object(payload: bytes) -> dict[str, Any]:
    """UTF-8 JSON object with unique keys and no NaN/Infinity; raises Rejected(MALFORMED)."""
    try:
        decoded = json.loads(
            payload.decode("utf-8"), object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise Rejected(Reason.MALFORMED, str(error)[:200]) from None
    if not isinstance(decoded, dict):
        raise Rejected(Reason.MALFORMED, "the message must be a JSON object")
    return decoded


def decode_violation(payload: bytes) -> dict[str, Any]:
    """A validated v1 violation from raw bytes, or Rejected with a stable reason."""
    return decode_signed(payload, VIOLATION)


def decode_signed(payload: bytes, kind: SignedKind) -> dict[str, Any]:
    """A validated v1 message of `kind` from raw bytes, or Rejected with a stable reason."""
    if len(payload) > violation.MAX_PAYLOAD_BYTES:
        raise Rejected(Reason.OVERSIZED, f"{len(payload)} bytes > {violation.MAX_PAYLOAD_BYTES}")
    message = decode_json_object(payload)
    event_id = message.get("event_id")
    seq = message.get("seq")
    try:
        kind.validate(message)
    except violation.ViolationError as error:
        raise Rejected(
            Reason.INVALID_FIELD,
            str(error),
            event_id if violation.is_event_id(event_id) else None,
            seq if type(seq) is int else None,
        ) from None
    return message


def topic_parts(topic: str) -> tuple[str, list[str]]:
    """(radar_id segment, remaining segments) of a topic under `topics.ROOT`; Rejected(BAD_TOPIC) elsewhere."""
    parts = topics.split_radar_topic(topic)
    if parts is None:
        raise Rejected(Reason.BAD_TOPIC, f"topic outside {topics.ROOT}")
    return parts
