"""Central's MQTT connection stays up while its inbox is full for several keepalives: the network
thread does not read then (the broker keeps the flood), but it never waits in a callback, so it keeps
pinging and writing. Nothing is lost and, the connection never dropping, nothing is delivered twice."""

from __future__ import annotations

import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from speedledger.central.ingest.inbox import Inbox
from speedledger.central.ingest.mqtt import MqttSession, Received
from speedledger.shared.broker import BrokerAddress
from tests.fixtures.mosquitto import Mosquitto

KEEPALIVE_S = 1
#: Longer than both the broker's limit (1.5 keepalives without a packet, checked by mosquitto 2.0 only
#: every few seconds: a network thread blocked for 4 s went unnoticed, for 12 s it was dropped after 6)
#: and paho's own (a PINGRESP missing for a keepalive after its PINGREQ).
STALL_S = 8 * KEEPALIVE_S
FLOOD = 200
INBOX_MESSAGES = 8


@pytest.fixture
def sender(mosquitto: Mosquitto) -> Iterator[mqtt.Client]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="keepalive-radar")
    client.max_inflight_messages_set(0)
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    yield client
    client.disconnect()
    client.loop_stop()


def session(mosquitto: Mosquitto, inbox: Inbox, connections: list[float]) -> MqttSession:
    central = MqttSession(
        BrokerAddress.from_url(mosquitto.url),
        "keepalive-central",
        ["in/#"],
        inbox.put,
        on_connected=lambda: connections.append(time.monotonic()),
        keepalive_s=KEEPALIVE_S,
        may_read=inbox.wait_for_room,
    )
    central.start(wait_s=10)
    assert central.connected
    return central


def test_a_full_inbox_stops_the_reading_not_the_connection(mosquitto: Mosquitto, sender: mqtt.Client) -> None:
    inbox = Inbox(max_messages=INBOX_MESSAGES, max_bytes=1024 * 1024)
    connections: list[float] = []
    central = session(mosquitto, inbox, connections)
    try:
        for number in range(FLOOD):
            sender.publish(f"in/{number}", b"violation %d" % number, qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 10
        while len(inbox) < INBOX_MESSAGES:
            assert time.monotonic() < deadline, "the flood did not reach the inbox"
            time.sleep(0.01)
        time.sleep(STALL_S)  # a stalled commit stage: the inbox stays full
        assert central.connected
        # Beyond the bound, only one read every half keepalive, to keep the connection.
        assert len(inbox) <= INBOX_MESSAGES + 2 * STALL_S / KEEPALIVE_S

        received: list[Received] = []
        deadline = time.monotonic() + 60
        while len(received) < FLOOD and time.monotonic() < deadline:
            if not len(inbox):
                time.sleep(0.01)
                continue
            batch = [item for item in inbox.take(64) if item is not None]
            for item in batch:
                central.publish(f"out/{item.topic}", b"ack")  # as the commit stage: ack, then PUBACK
            central.confirm(item.delivery for item in batch)
            received.extend(batch)
        deadline = time.monotonic() + 10
        while central.unanswered() or central.held():  # the broker answers our acks, we PUBACK the flood
            assert time.monotonic() < deadline, "the broker stopped answering"
            time.sleep(0.05)
        assert len(connections) == 1, f"the connection dropped while the inbox was full for {STALL_S} s"
    finally:
        central.stop()

    assert sorted(item.topic for item in received) == sorted(f"in/{number}" for number in range(FLOOD))
    # paho reads one packet more than we have publications awaiting the broker's answer at a time.
    assert inbox.peak_messages <= INBOX_MESSAGES + 2 * STALL_S / KEEPALIVE_S + central.peak_unanswered

    # Every PUBACK reached the broker: the session's next connection gets nothing again, only what is new.
    inbox = Inbox(max_messages=INBOX_MESSAGES, max_bytes=1024 * 1024)
    central = session(mosquitto, inbox, connections)
    try:
        sender.publish("in/after", b"marker", qos=1).wait_for_publish(5)
        time.sleep(0.5)
        assert [item.topic for item in inbox.take(64) if item is not None] == ["in/after"]
    finally:
        central.stop()
