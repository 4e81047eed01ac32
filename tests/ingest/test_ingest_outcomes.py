"""Every outcome of a violation on the real broker: ack after commit, quarantine with reason and raw bytes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from speedledger.central.bootstrap import Central
from speedledger.central.infractions.events import violation_stream
from speedledger.central.infractions.violations import PAYLOAD_METADATA
from speedledger.central.ingest.queries import list_quarantine
from speedledger.central.ingest.service import Ingest
from speedledger.central.radars.commands import RevokeRadarKey, RotateRadarKey
from speedledger.shared import canonical, keys
from tests.fixtures.postgres import sqlite_only
from tests.ingest.harness import RadarClient, SigningRadar

pytestmark = pytest.mark.mosquitto

Register = Callable[[str], SigningRadar]
Connect = Callable[[str], RadarClient]


def _recorded(central: Central, message: dict[str, Any]) -> list[str]:
    stream = violation_stream(message["radar_id"], message["seq"])
    return [event.event_id for event in central.store.read_stream(stream)]


def _quarantined(central: Central, **filters: Any) -> list[dict[str, Any]]:
    with central.engine.connect() as conn:
        return list_quarantine(conn, **filters)


def _rejected(client: RadarClient, central: Central, message: dict[str, Any], reason: str) -> dict[str, Any]:
    """Send, expect a `rejected` ack with `reason`, nothing recorded and the raw bytes in the quarantine."""
    payload = json.dumps(message).encode()
    client.send(payload)
    ack = client.ack_for(message["event_id"])
    assert (ack["result"], ack["reason"]) == ("rejected", reason)
    rows = _quarantined(central, event_id=message["event_id"])
    assert [row["reason"] for row in rows] == [reason]
    assert rows[0]["payload_b64"] == keys.b64encode(payload)
    return ack


def test_accepted_then_duplicate_with_the_original_outcome(
    ingest: Ingest, central: Central, register: Register, radar_client: Connect
) -> None:
    radar = register("R-1")
    client = radar_client("R-1")
    message = radar.violation()
    client.send(message)
    ack = client.ack_for(message["event_id"])
    assert ack == {"event_id": message["event_id"], "seq": message["seq"], "result": "accepted", "reason": ""}
    # The ack is published only after the commit: the event is there as soon as the ack is.
    assert _recorded(central, message) == [message["event_id"]]
    stored = central.store.read_stream(violation_stream("R-1", message["seq"]))[0]
    assert stored.type == "ViolationRecorded"
    assert stored.data["message"] == message
    client.send(message)
    again = client.ack_for(message["event_id"], count=2)
    assert (again["result"], again["original"]) == ("duplicate", "accepted")
    assert _recorded(central, message) == [message["event_id"]]
    assert _quarantined(central) == []


def test_bytes_sent_in_another_form_are_kept_as_received(
    ingest: Ingest, central: Central, register: Register, radar_client: Connect
) -> None:
    radar = register("R-1")
    client = radar_client("R-1")
    canonical_message, spaced_message = radar.violation(), radar.violation()
    client.send(canonical.dumps(canonical_message))  # as radars send it (CONTRACT §1)
    spaced = json.dumps(spaced_message, indent=1).encode()  # signed content, other spacing
    client.send(spaced)
    for message in (canonical_message, spaced_message):
        assert client.ack_for(message["event_id"])["result"] == "accepted"
    stored = [
        central.store.read_stream(violation_stream("R-1", m["seq"]))[0] for m in (canonical_message, spaced_message)
    ]
    assert PAYLOAD_METADATA not in stored[0].metadata  # canonical bytes: the message itself is the payload
    assert keys.b64decode(stored[1].metadata[PAYLOAD_METADATA]) == spaced


def test_tampered_payload_is_rejected(
    ingest: Ingest, central: Central, register: Register, radar_client: Connect
) -> None:
    radar = register("R-1")
    message = radar.violation()
    message["measured_speed_ckmh"] -= 1000  # after signing
    _rejected(radar_client("R-1"), central, message, "bad_signature")
    assert _recorded(central, message) == []


def test_foreign_key_is_rejected(ingest: Ingest, central: Central, register: Register, radar_client: Connect) -> None:
    radar = register("R-1")
    other = register("R-2")
    # Signed by R-2's key but claiming R-1's key id: the signature cannot verify.
    message = radar.violation()
    forged = {**message, "sig": keys.b64encode(other.private_key.sign(canonical.signing_bytes(message)))}
    _rejected(radar_client("R-1"), central, forged, "bad_signature")
    # R-2's own key id on R-1's topic and message: not a key of R-1.
    stranger = SigningRadar("R-1", private_key=other.private_key)
    _rejected(radar_client("R-1"), central, stranger.violation(seq=50), "unknown_key")


def test_revoked_key_is_rejected_but_an_earlier_acceptance_stays_duplicate(
    ingest: Ingest, central: Central, register: Register, radar_client: Connect
) -> None:
    radar = register("R-1")
    client = radar_client("R-1")
    accepted = radar.violation()
    client.send(accepted)
    assert client.ack_for(accepted["event_id"])["result"] == "accepted"
    replacement = Ed25519PrivateKey.generate()
    central.bus.handle(
        RotateRadarKey(radar_id="R-1", public_key=keys.b64encode(replacement.public_key().public_bytes_raw()))
    )
    central.bus.handle(RevokeRadarKey(radar_id="R-1", key_id=radar.key_id, reason="stolen"))
    _rejected(client, central, radar.violation(), "revoked_key")
    # A radar re-sending, after the revocation, what was accepted before it: duplicate, so it can drop it.
    client.send(accepted)
    assert client.ack_for(accepted["event_id"], count=2)["result"] == "duplicate"
    radar.private_key = replacement
    fresh = radar.violation()
    client.send(fresh)
    assert client.ack_for(fresh["event_id"])["result"] == "accepted"


def test_unknown_radar_and_topic_mismatch(
    ingest: Ingest, central: Central, register: Register, radar_client: Connect
) -> None:
    ghost = SigningRadar("GHOST-1")
    _rejected(radar_client("GHOST-1"), central, ghost.violation(), "unknown_radar")
    radar = register("R-1")
    register("R-2")
    client = radar_client("R-2")
    message = radar.violation()  # radar_id R-1, published on R-2's topic: acked on R-2's topic
    client.send(message, topic_radar_id="R-2")
    ack = client.ack_for(message["event_id"])
    assert (ack["result"], ack["reason"]) == ("rejected", "topic_mismatch")
    assert _quarantined(central, radar_id="R-2")[0]["reason"] == "topic_mismatch"


@sqlite_only  # the schema decides before any write; a quarantine row on PostgreSQL: test_passages' refusals
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("speed_limit_kmh", 90.0),
        ("measured_speed_ckmh", 11000.5),
        ("seq", True),
        ("frames", False),
        ("plate", "GZ123QKÉ"),
        ("firmware", "1.0-ü"),
        ("direction", "sideways"),
    ],
)
def test_float_boolean_non_ascii_fields_are_rejected(
    ingest: Ingest, central: Central, register: Register, radar_client: Connect, field: str, value: object
) -> None:
    radar = register("R-1")
    message = {**radar.violation(), field: value}  # the schema refuses it before any signature check
    client = radar_client("R-1")
    client.send(json.dumps(message, ensure_ascii=False).encode())
    ack = client.ack_for(message["event_id"])
    assert (ack["result"], ack["reason"]) == ("rejected", "invalid_field")
    row = _quarantined(central)[0]
    assert row["reason"] == "invalid_field"
    assert row["detail"].startswith(field)


def test_malformed_and_oversized_never_stop_the_consumer(
    ingest: Ingest, central: Central, register: Register, radar_client: Connect
) -> None:
    radar = register("R-1")
    client = radar_client("R-1")
    hostile = [b"", b"{not json", b"\xff\xfe\x00", b"[" * 50_000, b'{"a":1,"a":2}', b"x" * (64 * 1024 + 1)]
    for payload in hostile:
        client.send(payload)
    message = radar.violation()
    client.send(message)
    assert client.ack_for(message["event_id"])["result"] == "accepted"
    deadline = time.monotonic() + 5
    while len(_quarantined(central)) < len(hostile) and time.monotonic() < deadline:
        time.sleep(0.05)
    reasons = sorted(row["reason"] for row in _quarantined(central))
    assert reasons == sorted(["malformed"] * 5 + ["oversized"])
    sizes = {row["payload_size"] for row in _quarantined(central)}
    assert 64 * 1024 + 1 in sizes


def test_seq_reuse_is_rejected(ingest: Ingest, central: Central, register: Register, radar_client: Connect) -> None:
    radar = register("R-1")
    client = radar_client("R-1")
    first = radar.violation(seq=7)
    client.send(first)
    assert client.ack_for(first["event_id"])["result"] == "accepted"
    reused = radar.violation(seq=7)
    _rejected(client, central, reused, "seq_reuse")
    assert _recorded(central, first) == [first["event_id"]]


def test_clock_skew_bound(ingest: Ingest, central: Central, register: Register, radar_client: Connect) -> None:
    radar = register("R-1")
    client = radar_client("R-1")
    now = time.time_ns() // 1_000_000
    bound = ingest.settings.limits.max_skew_ms
    _rejected(client, central, radar.violation(detected_at_ms=now + bound + 60_000), "clock_skew")
    near_future = radar.violation(detected_at_ms=now + bound - 60_000)
    client.send(near_future)
    assert client.ack_for(near_future["event_id"])["result"] == "accepted"
    # Radars may have been offline for days: old events are fine.
    week_old = radar.violation(detected_at_ms=now - 7 * 24 * 3600 * 1000)
    client.send(week_old)
    assert client.ack_for(week_old["event_id"])["result"] == "accepted"


def test_redelivered_rejection_is_counted_not_duplicated(
    ingest: Ingest, central: Central, register: Register, radar_client: Connect
) -> None:
    register("R-1")
    client = radar_client("R-1")
    ghost = SigningRadar("R-1").violation()  # unknown key
    for count in (1, 2, 3):
        client.send(ghost)
        client.ack_for(ghost["event_id"], count=count)
    rows = _quarantined(central)
    assert len(rows) == 1
    assert rows[0]["occurrences"] == 3
