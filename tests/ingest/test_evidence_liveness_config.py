"""Evidence matched whichever arrives first, who is online, and the central-signed config push."""

from __future__ import annotations

import hashlib
import json
import queue
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from speedledger.central.bootstrap import Central
from speedledger.central.ingest import rows
from speedledger.central.ingest.classify import EvidenceImage
from speedledger.central.ingest.queries import (
    evidence_for_violation,
    list_liveness,
    list_quarantine,
    missing_evidence,
    radar_liveness,
    unmatched_evidence,
)
from speedledger.central.ingest.rows import record_seen
from speedledger.central.ingest.service import Ingest
from speedledger.central.ingest.tables import early_images, evidence_blobs
from speedledger.central.radars.commands import UpdateRadar
from speedledger.central.sections.retention import Window
from speedledger.edge.core.config import verify_config
from tests.fixtures.mosquitto import Mosquitto
from tests.ingest.harness import TINY_JPEG, RadarClient, SigningRadar, eventually, with_image

pytestmark = pytest.mark.mosquitto

Register = Callable[[str], SigningRadar]
Connect = Callable[[str], RadarClient]
OTHER_JPEG = b"\xff\xd8\xff\xe1another image\xff\xd9"


def _evidence(central: Central, event_id: str, now_ms: int | None = None) -> Any:
    central.runner.catch_up()
    with central.engine.connect() as conn:
        return evidence_for_violation(conn, event_id, now_ms=now_ms or time.time_ns() // 1_000_000)


def _waiting_sealed(central: Central) -> list[str]:
    """The event_ids of the images (TINY_JPEG) waiting sealed for their message, none in the clear blobs."""
    with central.engine.connect() as conn:
        waiting = conn.execute(select(early_images)).all()
        blobs = conn.execute(select(evidence_blobs.c.sha256)).scalars().all()
    assert not {row.sha256 for row in waiting} & set(blobs)
    for row in waiting:
        assert central.passages.open(Window.parse(row.window), bytes(row.sealed), row.event_id) == TINY_JPEG
    return [row.event_id for row in waiting]


def _arrived(central: Central, event_id: str) -> bool:
    with central.engine.connect() as conn:
        return any(row["event_id"] == event_id for row in unmatched_evidence(conn))


def test_evidence_before_its_violation(
    ingest: Ingest, central: Central, register: Register, radar_client: Connect
) -> None:
    radar = register("R-1")
    client = radar_client("R-1")
    message = with_image(radar)
    client.publish(f"evidence/{message['event_id']}", TINY_JPEG)
    eventually(lambda: _arrived(central, message["event_id"]))  # stored, not matched yet
    assert _evidence(central, message["event_id"]).status == "unknown"
    # It could be a passage's: sealed until its message claims it, never in clear (docs/sections.md).
    assert _waiting_sealed(central) == [message["event_id"]]
    client.send(message)
    assert client.ack_for(message["event_id"])["result"] == "accepted"
    evidence = _evidence(central, message["event_id"])
    assert (evidence.status, evidence.content) == ("received", TINY_JPEG)
    assert evidence.image_sha256 == hashlib.sha256(TINY_JPEG).hexdigest()
    assert _waiting_sealed(central) == []


def test_evidence_arriving_before_its_violation_is_projected(
    ingest: Ingest, central: Central, register: Register, radar_client: Connect
) -> None:
    """The violation is recorded but not yet projected when its image comes: the image waits sealed, and the
    projection of the violation opens it into its evidence."""
    radar = register("R-1")
    client = radar_client("R-1")
    message = with_image(radar)
    client.send(message)
    assert client.ack_for(message["event_id"])["result"] == "accepted"
    client.publish(f"evidence/{message['event_id']}", TINY_JPEG)
    assert eventually(lambda: _waiting_sealed(central)) == [message["event_id"]]
    evidence = _evidence(central, message["event_id"])  # projected now
    assert (evidence.status, evidence.content) == ("received", TINY_JPEG)
    assert _waiting_sealed(central) == []


def test_the_forgetting_claims_an_early_image_its_violation_did_not_see(
    ingest: Ingest, central: Central, register: Register, radar_client: Connect
) -> None:
    """On PostgreSQL an image sealed while its violation is being projected in another transaction is seen by
    neither: the forgetting's next run (`rows.claim_early_images`) puts it in the violation's evidence."""
    radar = register("R-1")
    client = radar_client("R-1")
    message = with_image(radar)
    client.send(message)
    assert client.ack_for(message["event_id"])["result"] == "accepted"
    assert _evidence(central, message["event_id"]).status == "pending"
    image = EvidenceImage(message["event_id"], message["image_sha256"], TINY_JPEG)
    with central.engine.begin() as conn:  # what the ingest's transaction did, not seeing the projection's
        rows.record_arrival(conn, image, radar.radar_id, time.time_ns() // 1_000_000)
        rows.seal_early_image(conn, central.passages, image)
    assert _evidence(central, message["event_id"]).status == "pending"
    assert central.forgetting.run_once().claimed_images == 1
    evidence = _evidence(central, message["event_id"])
    assert (evidence.status, evidence.content) == ("received", TINY_JPEG)
    assert _waiting_sealed(central) == []
    assert central.forgetting.run_once().claimed_images == 0


def test_a_rebuild_leaves_early_images_to_the_repair(
    ingest: Ingest, central: Central, register: Register, radar_client: Connect
) -> None:
    """A rebuild of the evidence projection replays the violation without claiming its early image (no
    statement spent on it); the forgetting's next run does."""
    radar = register("R-1")
    client = radar_client("R-1")
    message = with_image(radar)
    client.publish(f"evidence/{message['event_id']}", TINY_JPEG)
    eventually(lambda: _waiting_sealed(central))
    client.send(message)
    assert client.ack_for(message["event_id"])["result"] == "accepted"
    central.runner.rebuild("ingest_evidence")  # before the live projection saw the violation
    assert _evidence(central, message["event_id"]).status == "pending"
    assert central.forgetting.run_once().claimed_images == 1
    evidence = _evidence(central, message["event_id"])
    assert (evidence.status, evidence.content) == ("received", TINY_JPEG)


def test_evidence_after_its_violation_and_missing_evidence_is_flagged(
    ingest: Ingest, central: Central, register: Register, radar_client: Connect
) -> None:
    radar = register("R-1")
    client = radar_client("R-1")
    late, never = with_image(radar), with_image(radar, OTHER_JPEG)
    for message in (late, never):
        client.send(message)
        assert client.ack_for(message["event_id"])["result"] == "accepted"
    assert _evidence(central, late["event_id"]).status == "pending"
    client.publish(f"evidence/{late['event_id']}", TINY_JPEG)
    received = eventually(lambda: (e := _evidence(central, late["event_id"])).status == "received" and e)
    assert received.content == TINY_JPEG
    an_hour_later = time.time_ns() // 1_000_000 + 3600_000
    assert _evidence(central, never["event_id"], an_hour_later).status == "missing"
    with central.engine.connect() as conn:
        flagged = [row["event_id"] for row in missing_evidence(conn, now_ms=an_hour_later)]
    assert flagged == [never["event_id"]]


def test_evidence_that_does_not_match_its_signed_hash_is_quarantined(
    ingest: Ingest, central: Central, register: Register, radar_client: Connect
) -> None:
    radar = register("R-1")
    client = radar_client("R-1")
    message = with_image(radar)
    client.send(message)
    assert client.ack_for(message["event_id"])["result"] == "accepted"
    central.runner.catch_up()
    client.publish(f"evidence/{message['event_id']}", OTHER_JPEG)
    client.publish(f"evidence/{uuid.uuid4()}", b"GIF89a not a jpeg")
    client.publish("evidence/NOT-AN-ID", TINY_JPEG)

    def reasons() -> list[str]:
        with central.engine.connect() as conn:
            return sorted(row["reason"] for row in list_quarantine(conn))

    assert eventually(lambda: len(reasons()) == 3 and reasons()) == ["bad_topic", "evidence_mismatch", "malformed"]
    assert _evidence(central, message["event_id"]).status == "pending"


def test_who_is_online(ingest: Ingest, central: Central, register: Register, mosquitto: Mosquitto) -> None:
    register("R-1")
    radar = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="radar-R-1")
    status_topic = "speedledger/v1/radars/R-1/status"
    radar.will_set(status_topic, json.dumps({"state": "offline", "firmware": "t", "at_ms": 0}), qos=1, retain=True)
    radar.connect("127.0.0.1", mosquitto.port, keepalive=5)
    radar.loop_start()
    at_ms = time.time_ns() // 1_000_000
    online = {"state": "online", "firmware": "t-2", "at_ms": at_ms}
    radar.publish(status_topic, json.dumps(online), qos=1, retain=True).wait_for_publish(5)

    def liveness() -> dict[str, Any]:
        with central.engine.connect() as conn:
            return radar_liveness(conn, "R-1")

    seen = eventually(lambda: liveness()["online"] and liveness())
    assert seen["firmware"] == "t-2"
    assert seen["last_seen_ms"] >= at_ms
    # Power cut: the socket dies without DISCONNECT, the broker publishes the last will.
    radar.loop_stop()
    sock = radar.socket()
    assert isinstance(sock, socket.socket)
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    gone = eventually(lambda: not liveness()["online"] and liveness())
    assert gone["last_seen_ms"] == seen["last_seen_ms"]  # the will is the broker speaking, not the radar
    with central.engine.connect() as conn:
        centrals = {row["node_id"]: row["online"] for row in list_liveness(conn, kind="central")}
    assert centrals == {ingest.settings.client_id: True}


def _verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def test_config_push_signed_by_central_on_every_limit_change(
    ingest: Ingest, central: Central, register: Register, mosquitto: Mosquitto
) -> None:
    configs: queue.Queue[bytes] = queue.Queue()
    listener = mqtt.Client(CallbackAPIVersion.VERSION2)
    listener.on_message = lambda _c, _u, message: configs.put(message.payload)
    listener.connect("127.0.0.1", mosquitto.port)
    listener.loop_start()
    listener.subscribe("speedledger/v1/radars/R-1/config", qos=1)
    try:
        register("R-1")
        public_key = ingest.config_key.public_key
        first = verify_config(configs.get(timeout=10), "R-1", public_key, _verify)
        assert first.policy.speed_limit_kmh == 90
        central.bus.handle(UpdateRadar(radar_id="R-1", speed_limit_kmh=70))
        second = verify_config(configs.get(timeout=10), "R-1", public_key, _verify)
        assert second.policy.speed_limit_kmh == 70
        assert second.issued_at_ms >= first.issued_at_ms
        assert configs.empty()
    finally:
        listener.disconnect()
        listener.loop_stop()
    # Retained: a radar connecting later gets the config in force.
    late: queue.Queue[bytes] = queue.Queue()
    radar = mqtt.Client(CallbackAPIVersion.VERSION2)
    radar.on_message = lambda _c, _u, message: late.put(message.payload)
    radar.connect("127.0.0.1", mosquitto.port)
    radar.loop_start()
    radar.subscribe("speedledger/v1/radars/R-1/config", qos=1)
    try:
        assert verify_config(late.get(timeout=10), "R-1", public_key, _verify).policy.speed_limit_kmh == 70
    finally:
        radar.disconnect()
        radar.loop_stop()
    assert ingest.config_key.public_info()["key_id"] == json.loads(first.payload)["key_id"]


def test_hostile_status_and_unknown_radars_leave_liveness_alone(
    ingest: Ingest, central: Central, register: Register, radar_client: Connect
) -> None:
    radar = register("R-1")
    client = radar_client("R-1")
    client.publish("status", b'{"state":"dancing"}')
    client.publish("status", b"\x00\x01 not json")
    stranger = radar_client("GHOST-9")
    stranger.publish("status", json.dumps({"state": "online", "firmware": "x", "at_ms": 1}).encode())
    ghost_violation = SigningRadar("GHOST-9").violation()
    stranger.send(ghost_violation)
    assert stranger.ack_for(ghost_violation["event_id"])["reason"] == "unknown_radar"
    message = radar.violation()
    client.send(message)
    assert client.ack_for(message["event_id"])["result"] == "accepted"

    def reasons() -> list[str]:
        with central.engine.connect() as conn:
            return sorted(row["reason"] for row in list_quarantine(conn))

    expected = ["bad_status", "malformed", "unknown_radar", "unknown_radar"]
    assert eventually(lambda: reasons() == expected and reasons()) == expected
    with central.engine.connect() as conn:
        nodes = {row["node_id"]: row["online"] for row in list_liveness(conn, kind="radar")}
    assert nodes == {"R-1": False}  # heard from (a violation), never said it is online; no ghost row


def test_a_batch_records_each_radar_heard_from_and_never_moves_it_back(central: Central) -> None:
    """`rows.record_seen` writes a batch's radars in one statement; an older arrival keeps the newer one."""
    with central.store.transaction() as tx:
        record_seen(tx.connection, {"R-1": 1_000, "R-2": 2_000})
    with central.store.transaction() as tx:
        record_seen(tx.connection, {"R-1": 500, "R-2": 3_000, "R-3": 700})  # a late, older one
    with central.engine.connect() as conn:
        seen = {radar_id: radar_liveness(conn, radar_id)["last_seen_ms"] for radar_id in ("R-1", "R-2", "R-3")}
    assert seen == {"R-1": 1_000, "R-2": 3_000, "R-3": 700}
