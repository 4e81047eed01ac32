"""Central's acks cannot pile up in its MQTT client: while the broker leaves too many of them
unanswered, the PUBACKs of the messages they answer wait (so the broker stops sending at its
in-flight window), and once it answers again they all go: nothing is lost, nothing is re-delivered."""

from __future__ import annotations

import queue
import signal
import time
from collections.abc import Callable, Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from speedledger.central.ingest.mqtt import MqttSession, Received
from speedledger.shared.broker import BrokerAddress
from tests.fixtures.mosquitto import Mosquitto

MAX_UNANSWERED = 2
MESSAGES = 6


def until(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def sender(mosquitto: Mosquitto) -> Iterator[mqtt.Client]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="ack-bound-radar")
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    yield client
    client.disconnect()
    client.loop_stop()


def session(mosquitto: Mosquitto, received: queue.Queue[Received]) -> MqttSession:
    central = MqttSession(
        BrokerAddress.from_url(mosquitto.url),
        "ack-bound-central",
        ["in/#"],
        received.put,
        max_unanswered=MAX_UNANSWERED,
    )
    central.start(wait_s=10)
    assert central.connected
    return central


def test_confirmations_wait_for_the_broker_to_answer_our_acks(mosquitto: Mosquitto, sender: mqtt.Client) -> None:
    received: queue.Queue[Received] = queue.Queue()
    central = session(mosquitto, received)
    try:
        for number in range(MESSAGES):
            sender.publish(f"in/{number}", b"violation", qos=1).wait_for_publish(5)
        deliveries = [received.get(timeout=10).delivery for _ in range(MESSAGES)]

        assert mosquitto.process is not None
        mosquitto.process.send_signal(signal.SIGSTOP)  # a broker that answers nothing for a while
        try:
            for number in range(MESSAGES):
                central.publish(f"out/{number}", b"ack")
            central.confirm(deliveries)
            assert central.unanswered() == MESSAGES
            assert central.held() == MESSAGES, "no PUBACK while more than MAX_UNANSWERED acks are unanswered"
        finally:
            mosquitto.process.send_signal(signal.SIGCONT)
        until(lambda: central.held() == 0 and central.unanswered() == 0)
        assert central.peak_held == MESSAGES
    finally:
        central.stop()

    # The PUBACKs did go: a new connection of the same session gets nothing again, only what is new.
    received = queue.Queue()
    central = session(mosquitto, received)
    try:
        sender.publish("in/after", b"marker", qos=1).wait_for_publish(5)
        assert received.get(timeout=10).topic == "in/after"
        assert received.empty()
    finally:
        central.stop()


def test_confirmations_go_at_once_while_the_broker_keeps_up(mosquitto: Mosquitto, sender: mqtt.Client) -> None:
    received: queue.Queue[Received] = queue.Queue()
    central = session(mosquitto, received)
    try:
        sender.publish("in/1", b"violation", qos=1).wait_for_publish(5)
        delivery = received.get(timeout=10).delivery
        central.publish("out/1", b"ack")
        central.confirm([delivery])
        assert central.held() == 0, "one ack unanswered is within the bound: the PUBACK went at once"
        until(lambda: central.held() == 0 and central.unanswered() == 0)
    finally:
        central.stop()
