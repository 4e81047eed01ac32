"""Passages (CONTRACT §6) on the real broker: the violation's checks, acks, quarantine and evidence,
and one seq counter for both kinds of message."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Row, select

from speedledger.central.bootstrap import Central
from speedledger.central.infractions.events import violation_stream
from speedledger.central.ingest.queries import list_quarantine, missing_evidence, unmatched_evidence
from speedledger.central.ingest.service import Ingest
from speedledger.central.ingest.tables import evidence_blobs, passage_images
from speedledger.central.projections.runner import ProjectionRunner
from speedledger.central.sections.events import PASSAGE_EVENTS, PassageRecorded
from speedledger.central.sections.passages import open_passage
from speedledger.central.sections.retention import HOUR_MS, Window
from speedledger.shared import keys
from tests.ingest.harness import TINY_JPEG, RadarClient, SigningRadar

pytestmark = pytest.mark.mosquitto

Register = Callable[[str], SigningRadar]
Connect = Callable[[str], RadarClient]


def _stored(central: Central, message: dict[str, Any]) -> list[tuple[str, str]]:
    stream = violation_stream(message["radar_id"], message["seq"])
    return [(event.type, event.event_id) for event in central.store.read_stream(stream)]


def _send_passage(client: RadarClient, message: dict[str, Any], count: int = 1) -> dict[str, Any]:
    client.send(message, suffix="passages")
    return client.ack_for(message["event_id"], count=count)


def test_accepted_then_duplicate(ingest: Ingest, central: Central, register: Register, radar_client: Connect) -> None:
    radar = register("R-1")
    client = radar_client("R-1")
    message = radar.passage()
    ack = _send_passage(client, message)
    assert ack == {"event_id": message["event_id"], "seq": message["seq"], "result": "accepted", "reason": ""}
    assert _stored(central, message) == [("PassageRecorded", message["event_id"])]
    stored = central.store.read_stream(violation_stream("R-1", message["seq"]))[0]
    event = PASSAGE_EVENTS.decode(stored.type, stored.data)
    assert isinstance(event, PassageRecorded) and message["plate"] not in str(stored.data)
    opened = open_passage(central.passages, event)
    assert opened is not None and opened.message == message
    again = _send_passage(client, message, count=2)
    assert (again["result"], again["original"]) == ("duplicate", "accepted")
    assert _stored(central, message) == [("PassageRecorded", message["event_id"])]


def test_one_seq_counter_for_violations_and_passages(
    ingest: Ingest, central: Central, register: Register, radar_client: Connect
) -> None:
    radar = register("R-1")
    client = radar_client("R-1")
    first = radar.violation()
    client.send(first)
    assert client.ack_for(first["event_id"])["result"] == "accepted"
    replayed = radar.passage(seq=first["seq"])
    ack = _send_passage(client, replayed)
    assert (ack["result"], ack["reason"]) == ("rejected", "seq_reuse")
    assert _stored(central, first) == [("ViolationRecorded", first["event_id"])]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"plate": ""}, "invalid_field"),
        ({"image_sha256": ""}, "invalid_field"),
        ({"clock_uncertainty_ms": -5}, "invalid_field"),
        ({"passed_at_ms": time.time_ns() // 1_000_000 + 3_600_000}, "clock_skew"),
        ({"radar_id": "R-2"}, "topic_mismatch"),
    ],
)
def test_refusals_are_quarantined_with_their_reason(
    ingest: Ingest,
    central: Central,
    register: Register,
    radar_client: Connect,
    change: dict[str, Any],
    reason: str,
) -> None:
    radar = register("R-1")
    register("R-2")
    client = radar_client("R-1")
    message = radar.passage(**change)
    payload = json.dumps(message).encode()
    client.send(payload, suffix="passages")
    ack = client.ack_for(message["event_id"])
    assert (ack["result"], ack["reason"]) == ("rejected", reason)
    with central.engine.connect() as conn:
        rows = list_quarantine(conn, event_id=message["event_id"])
    assert [(row["reason"], row["topic"]) for row in rows] == [(reason, "speedledger/v1/radars/R-1/passages")]
    assert rows[0]["payload_b64"] == keys.b64encode(payload)
    assert _stored(central, message) == []


def test_tampered_passage_is_rejected(
    ingest: Ingest, central: Central, register: Register, radar_client: Connect
) -> None:
    radar = register("R-1")
    message = radar.passage()
    message["plate"] = "AB123CD"  # after signing
    ack = _send_passage(radar_client("R-1"), message)
    assert (ack["result"], ack["reason"]) == ("rejected", "bad_signature")


@pytest.mark.parametrize("image_first", [True, False])
def test_the_image_of_a_passage_is_kept_sealed(
    ingest: Ingest,
    central: Central,
    register: Register,
    radar_client: Connect,
    evidence_runner: ProjectionRunner,
    image_first: bool,
) -> None:
    """Sealed under the passage's window key, whichever arrived first; no clear copy (the blobs hold only
    infractions' images: sections/forgetting.py copies those)."""
    radar = register("R-1")
    client = radar_client("R-1")
    message = radar.passage()
    if image_first:
        client.publish(f"evidence/{message['event_id']}", TINY_JPEG)
    assert _send_passage(client, message)["result"] == "accepted"
    if not image_first:
        client.publish(f"evidence/{message['event_id']}", TINY_JPEG)
    deadline = time.monotonic() + 10
    while (row := _passage_image(central, message["event_id"])) is None or row.sealed is None:
        assert time.monotonic() < deadline, "the image was not stored"
        time.sleep(0.05)
    image = central.passages.open(Window.parse(row.window), row.sealed, message["event_id"])
    assert image == TINY_JPEG
    evidence_runner.catch_up()
    with central.engine.connect() as conn:
        assert conn.execute(select(evidence_blobs)).all() == []
        assert missing_evidence(conn, now_ms=time.time_ns() // 1_000_000 + HOUR_MS) == []
        assert unmatched_evidence(conn) == []


def _passage_image(central: Central, event_id: str) -> Row[Any] | None:
    with central.engine.connect() as conn:
        return conn.execute(select(passage_images).where(passage_images.c.event_id == event_id)).first()
