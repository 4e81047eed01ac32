"""A passive MQTT client that sees every violation, passage and ack go by: ack latency and journal depth,
and the passages of section control as the radars signed them, from outside.

It keeps a persistent session (QoS 1), so what the broker holds for it while it is disconnected (a
broker restart) still arrives. It never publishes.
"""

from __future__ import annotations

import json
import secrets
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from speedledger.shared import topics
from speedledger.shared.broker import BrokerAddress


class Observer:
    def __init__(self, mqtt_url: str) -> None:
        self.address = BrokerAddress.from_url(mqtt_url)
        self.published: dict[str, float] = {}  # event id -> monotonic time of its first publish
        self.acked: dict[str, tuple[float, str]] = {}  # event id -> (monotonic time, result) of its first ack
        self.passages: dict[str, dict[str, object]] = {}  # event id -> the signed passage, first seen
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"speedledger-sim-observer-{secrets.token_hex(4)}",
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.address.configure(client)
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *args: self._subscribed.set()
        client.on_message = self._on_message
        self.client = client

    def start(self, timeout_s: float = 10.0) -> None:
        self.client.connect_async(self.address.host, self.address.port)
        self.client.loop_start()
        if not self._subscribed.wait(timeout_s):
            raise TimeoutError(f"the broker at {self.address.host}:{self.address.port} did not answer")

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, *args: object) -> None:
        client.subscribe([(topics.ROOT + f"+/{kind}", 1) for kind in ("violations", "passages", "acks")])

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        split = topics.split_radar_topic(message.topic)
        if split is None:
            return
        try:
            body = json.loads(message.payload)
            event_id = str(body["event_id"])
        except (ValueError, KeyError, TypeError):
            return  # not ours to judge: central quarantines it
        with self._lock:
            if split[1] == ["violations"]:
                self.published.setdefault(event_id, now)
            elif split[1] == ["passages"]:
                self.passages.setdefault(event_id, body)
            elif split[1] == ["acks"]:
                self.acked.setdefault(event_id, (now, str(body.get("result"))))

    def ack_latencies_ms(self) -> list[float]:
        """First publish to first ack, per event seen both ways."""
        with self._lock:
            return [
                (acked - self.published[event_id]) * 1000
                for event_id, (acked, _) in self.acked.items()
                if event_id in self.published
            ]
