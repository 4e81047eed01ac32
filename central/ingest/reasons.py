"""Stable quarantine / rejection reason codes (they appear in acks, the quarantine and metrics)."""

from enum import StrEnum


class Reason(StrEnum):
    OVERSIZED = "oversized"  # payload above the limit (64 KiB for violations)
    MALFORMED = "malformed"  # not UTF-8, not JSON, duplicate keys, not an object
    INVALID_FIELD = "invalid_field"  # a field missing, of the wrong type or out of range (detail names it)
    TOPIC_MISMATCH = "topic_mismatch"  # radar_id in the message differs from the topic's
    UNKNOWN_RADAR = "unknown_radar"  # no registered radar with that id
    UNKNOWN_KEY = "unknown_key"  # key_id not registered for that radar
    REVOKED_KEY = "revoked_key"  # key_id registered but revoked
    BAD_SIGNATURE = "bad_signature"  # Ed25519 signature does not verify over the canonical bytes
    CLOCK_SKEW = "clock_skew"  # detected_at_ms too far in the future of central's clock
    SEQ_REUSE = "seq_reuse"  # this radar's seq already recorded under another event_id
    EVENT_ID_REUSE = "event_id_reuse"  # this event_id already recorded for another radar/seq
    BAD_TOPIC = "bad_topic"  # topic outside the contract (e.g. malformed radar or event id segment)
    EVIDENCE_OVERSIZED = "evidence_oversized"  # evidence image above the configured limit
    EVIDENCE_MISMATCH = "evidence_mismatch"  # image hash differs from the one its violation signed
    BAD_STATUS = "bad_status"  # status message that is not the contract's JSON
    UNSTORABLE = "unstorable"  # passed or failed the checks, but the database refused to store it
