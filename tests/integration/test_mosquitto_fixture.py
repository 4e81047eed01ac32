"""The broker fixture itself: a retained message survives a broker restart (persistence on)."""

import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.fixtures.mosquitto import Mosquitto


def _client(broker: Mosquitto) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    return client


def test_retained_message_survives_restart(mosquitto: Mosquitto) -> None:
    publisher = _client(mosquitto)
    publisher.publish("t/retained", b"kept", qos=1, retain=True).wait_for_publish(5)
    publisher.loop_stop()
    publisher.disconnect()
    mosquitto.restart()
    received: list[bytes] = []
    subscriber = _client(mosquitto)
    subscriber.on_message = lambda _c, _u, message: received.append(message.payload)
    subscriber.subscribe("t/retained", qos=1)
    deadline = time.monotonic() + 5
    while not received and time.monotonic() < deadline:
        time.sleep(0.05)
    subscriber.loop_stop()
    subscriber.disconnect()
    assert received == [b"kept"]
