"""The radar's MQTT connection on CPython (paho-mqtt 2.x), a transport for the portable Outbox.

- Persistent session (`clean_session=False`, client id `speedledger-radar-{radar_id}`), so acks and
  config published while the radar is offline wait at the broker.
- Last will: retained `status` `{"state":"offline",...}`; on every (re)connect a retained `online`
  status; a clean stop publishes `offline` itself (the broker sends the will only on a lost link).
- Subscribes to `acks` and `config` (QoS 1). paho's network thread reconnects with exponential backoff
  (`min_reconnect_s` doubling up to `max_reconnect_s`); its callbacks only enqueue `TransportEvent`s,
  so journal and outbox are touched from the agent's thread alone.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from speedledger.edge.core.outbox import status_payload
from speedledger.shared import topics
from speedledger.shared.broker import BrokerAddress, set_nodelay

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransportEvent:
    """`kind` is "connected", "disconnected" or "message" (then with topic and payload)."""

    kind: str
    topic: str = ""
    payload: bytes = b""


class MqttTransport:
    """Implements `publish(topic, payload, qos, retain) -> bool` for `speedledger.edge.core.outbox.Outbox`."""

    def __init__(
        self,
        url: str,
        radar_id: str,
        firmware: str,
        wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        keepalive_s: int = 30,
        min_reconnect_s: int = 1,
        max_reconnect_s: int = 30,
        password: str | None = None,
    ) -> None:
        address = BrokerAddress.from_url(url)
        if password is not None:  # kept out of the URL (and so out of `ps`); the username defaults to the radar id
            address = replace(address, username=address.username or radar_id, password=password)
        self.address = address
        #: Why the radar has no broker session (unreachable, refused, dropped); None while connected.
        self.last_error: str | None = None
        self.radar_id = radar_id
        self.firmware = firmware
        self.events: queue.Queue[TransportEvent] = queue.Queue()
        self._wall_ms = wall_ms
        self._keepalive_s = keepalive_s
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"speedledger-radar-{radar_id}",
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        self.address.configure(client)
        client.reconnect_delay_set(min_delay=min_reconnect_s, max_delay=max_reconnect_s)
        client.max_inflight_messages_set(32)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client

    def start(self) -> None:
        """Connect in the background; the first connection may fail and is retried like any other."""
        self._client.will_set(
            topics.status(self.radar_id), status_payload("offline", self.firmware, self._wall_ms()), 1, True
        )
        self._client.connect_async(self.address.host, self.address.port, self._keepalive_s)
        self._client.loop_start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Publish the retained offline status, wait for it to leave, disconnect."""
        if self._client.is_connected():
            info = self._client.publish(
                topics.status(self.radar_id), status_payload("offline", self.firmware, self._wall_ms()), 1, True
            )
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError):
                log.warning("offline status not confirmed by the broker")
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> bool:
        if not self._client.is_connected():
            return False
        info = self._client.publish(topic, payload, qos, retain)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: mqtt.Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self.last_error = f"the broker at {self._where()} refused the connection: {reason_code}"
            log.warning("%s", self.last_error)
            return
        self.last_error = None
        set_nodelay(client)
        client.subscribe([(topics.acks(self.radar_id), 1), (topics.config(self.radar_id), 1)])
        client.publish(topics.status(self.radar_id), status_payload("online", self.firmware, self._wall_ms()), 1, True)
        log.info("connected to %s:%d (session present: %s)", *self._host_port(), flags.session_present)
        self.events.put(TransportEvent("connected"))

    def _host_port(self) -> tuple[str, int]:
        return self.address.host, self.address.port

    def _where(self) -> str:
        return f"{self.address.host}:{self.address.port}"

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        self.last_error = f"cannot reach the broker at {self._where()} (check --mqtt / SPEEDLEDGER_MQTT)"
        log.info("%s", self.last_error)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: mqtt.Properties | None,
    ) -> None:
        if self.last_error is None:
            self.last_error = f"disconnected from the broker at {self._where()}: {reason_code}"
        log.info("disconnected from the broker: %s", reason_code)
        self.events.put(TransportEvent("disconnected"))

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        self.events.put(TransportEvent("message", message.topic, bytes(message.payload)))
