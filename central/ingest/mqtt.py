"""The paho-mqtt adapter: one persistent session, QoS 1 subscriptions, PUBACK only when told.

`manual_ack=True` makes paho hold the PUBACK of every received QoS 1 message until `confirm` is
called, which the ingest does only after the message's outcome is committed (and its ack
published). The broker keeps unconfirmed messages in the session and sends them again after a
reconnect or a restart of central, so a crash at any point loses nothing.

Central's own QoS 1 publications (the acks, one per message) wait in paho until the broker PUBACKs
them, without limit (nothing is ever dropped). To keep that bounded, confirmations wait while more
than `max_unanswered` publications are unanswered: the broker then stops sending at its in-flight
window (deploy/mosquitto.conf: 1000), so at most that many acks more can be queued. Only the
PUBACKs wait, never the thread that publishes.

Backpressure on what arrives is by not reading: paho's network thread reads from the socket only
while `may_read` says the consumer has room (waiting for it a moment at a time otherwise), and the
broker keeps the rest. The thread itself never blocks in a callback, so it keeps writing (acks,
PUBACKs) and keeping the connection alive (PINGREQ) however long the consumer is full. It reads
anyway when it has read nothing for half the keepalive, so paho, which drops a connection whose
PINGRESP has not come for a keepalive, keeps it through a long stall of the consumer (the broker
sends little then: it has not had the PUBACKs of what it already sent).

Packet ids belong to one connection: a confirmation issued for a delivery from an earlier
connection is dropped (the broker re-delivers that message, and the ingest answers it again as a
duplicate) so it can never acknowledge a different message that reuses the id.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from speedledger.shared.broker import BrokerAddress, set_nodelay

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """What PUBACK needs: the connection the message arrived on and its packet id."""

    connection: int
    mid: int
    qos: int


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retained: bool
    received_at_ms: int
    delivery: Delivery


@dataclass(frozen=True)
class BrokerState:
    """What /health and /metrics say about the broker session: held or not, and why not."""

    connected: bool
    error: str | None = None


#: Central's publications unanswered by the broker beyond which PUBACKs wait (see the module doc).
MAX_UNANSWERED = 2000

#: While the consumer is full, how long the network thread waits for room before it writes and pings.
READ_PAUSE_S = 0.05

#: A session the broker closes this soon after it opened, this many times in a row, is being taken over.
QUICK_DROP_S = 5.0
QUICK_DROPS_FOR_TAKEOVER = 3


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class _GatedClient(mqtt.Client):
    """paho's client whose network loop reads only when `read_gate()` allows it (see the module doc).

    paho's loop calls `loop_read` when the socket is readable, then writes and checks the keepalive;
    a read that does not happen leaves the bytes in the socket, and so at the broker."""

    def __init__(self, *args: Any, read_gate: Callable[[], bool], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_gate = read_gate

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        if not self._read_gate():
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        return super().loop_read(max_packets)


class MqttSession:
    """A paho client in its own network thread that reconnects for ever and keeps its session."""

    def __init__(
        self,
        address: BrokerAddress,
        client_id: str,
        subscriptions: Sequence[str],
        on_message: Callable[[Received], None],
        *,
        will: tuple[str, bytes] | None = None,
        on_connected: Callable[[], None] | None = None,
        keepalive_s: int = 30,
        max_unanswered: int = MAX_UNANSWERED,
        may_read: Callable[[float], bool] | None = None,
    ) -> None:
        """`on_message` is called in the network thread and must not block; `may_read(timeout_s)`
        waits at most that long for the consumer to have room for more, and says whether it has."""
        self._subscriptions = list(subscriptions)
        #: The topic filters without a `$share/{group}/` prefix, to match incoming topics against.
        self._filters = [topic.split("/", 2)[2] if topic.startswith("$share/") else topic for topic in subscriptions]
        self._on_message = on_message
        self._on_connected = on_connected
        self._address = address
        self._keepalive_s = keepalive_s
        self._lock = threading.Lock()
        self._connection = 0
        self._connected = threading.Event()
        self._client_id = client_id
        self._error: str | None = None
        self._connected_at = 0.0
        self._quick_drops = 0
        self._stopping = False
        self._max_unanswered = max_unanswered
        self._may_read = may_read
        self._read_at = time.monotonic()
        #: Our QoS 1 publications the broker has not PUBACKed yet, and the confirmations held back meanwhile.
        self._unanswered: set[int] = set()
        self._held: deque[Delivery] = deque()
        self._answered_early: set[int] = set()
        #: High-water marks, for tests and /metrics.
        self.peak_unanswered = 0
        self.peak_held = 0
        client = _GatedClient(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,  # persistent session: the broker queues for us while we are away
            protocol=mqtt.MQTTv311,  # what both mosquitto and the embedded amqtt broker speak
            manual_ack=True,
            read_gate=self._read_gate,
        )
        client.max_queued_messages_set(0)  # never drop our own outgoing acks while disconnected
        client.max_inflight_messages_set(1000)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        address.configure(client)
        if will is not None:
            client.will_set(will[0], will[1], qos=1, retain=True)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_subscribe = self._handle_subscribe
        client.on_message = self._handle_message
        client.on_publish = self._handle_publish
        self._client = client

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, wait_s: float | None = None) -> None:
        """Connect in the background (retrying for ever); with `wait_s`, wait that long for the subscriptions."""
        self._client.connect_async(self._address.host, self._address.port, keepalive=self._keepalive_s)
        self._client.loop_start()
        if wait_s is not None and not self._connected.wait(wait_s):
            log.warning("MQTT broker %s:%s not reachable yet; retrying", self._address.host, self._address.port)

    def stop(self, final: tuple[str, bytes] | None = None) -> None:
        """Disconnect cleanly, after publishing `final` (retained) when connected."""
        self._stopping = True
        if final is not None and self._connected.is_set():
            info = self._publish(final[0], final[1], retain=True)
            with contextlib.suppress(RuntimeError):
                info.wait_for_publish(timeout=2)
        self._client.disconnect()
        self._client.loop_stop()

    @property
    def connected(self) -> bool:
        """Connected and subscribed."""
        return self._connected.is_set()

    def state(self) -> BrokerState:
        return BrokerState(connected=self._connected.is_set(), error=None if self._connected.is_set() else self._error)

    # -- outgoing -------------------------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """QoS 1; queued by paho while disconnected and sent after the reconnect."""
        self._publish(topic, payload, retain)

    def _publish(self, topic: str, payload: bytes, retain: bool) -> mqtt.MQTTMessageInfo:
        # Not under self._lock: paho calls on_publish holding the mutex its publish() takes.
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        with self._lock:
            if info.mid in self._answered_early:  # the broker's PUBACK came before we got here
                self._answered_early.discard(info.mid)
            else:
                self._unanswered.add(info.mid)
                self.peak_unanswered = max(self.peak_unanswered, len(self._unanswered))
        return info

    def confirm(self, deliveries: Iterable[Delivery]) -> None:
        """PUBACK messages whose outcome is committed; held back while too many of our publications
        are unanswered (stale connections are skipped)."""
        with self._lock:
            self._held.extend(delivery for delivery in deliveries if delivery.qos > 0)
            self.peak_held = max(self.peak_held, len(self._held))
            self._release_held()

    def held(self) -> int:
        """Confirmations waiting for the broker to answer our publications."""
        with self._lock:
            return len(self._held)

    def unanswered(self) -> int:
        with self._lock:
            return len(self._unanswered)

    def _release_held(self) -> None:
        """PUBACK what is held while there is room (caller holds the lock)."""
        while self._held and len(self._unanswered) <= self._max_unanswered:
            delivery = self._held.popleft()
            if delivery.connection == self._connection:
                self._client.ack(delivery.mid, delivery.qos)

    # -- paho callbacks (network thread) ------------------------------------------------------

    def _read_gate(self) -> bool:
        """Read now? Yes when the consumer has room (waited for a moment), or to keep the connection."""
        now = time.monotonic()
        if self._may_read is None or self._may_read(READ_PAUSE_S) or now - self._read_at >= self._keepalive_s / 2:
            self._read_at = now
            return True
        return False

    def _handle_connect(self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self._error = f"the broker refused the connection: {reason}"
            log.warning("MQTT connect refused: %s", reason)
            return
        self._connected_at = time.monotonic()
        with self._lock:
            self._connection += 1
        set_nodelay(client)
        log.info("MQTT connected (session present: %s)", flags.session_present)
        result, _mid = client.subscribe([(topic, 1) for topic in self._subscriptions])
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.warning("MQTT subscribe failed: %s", result)
        if self._on_connected is not None:
            self._on_connected()

    def _handle_subscribe(self, _client: mqtt.Client, _userdata: Any, _mid: int, reasons: Any, _props: Any) -> None:
        """Ready once the broker confirmed the subscriptions: from then on it queues for us."""
        refused = [reason for reason in reasons if reason.is_failure]
        if refused:
            log.error("MQTT broker refused subscriptions: %s", refused)
        self._error = None
        self._connected.set()

    def _handle_publish(self, _client: mqtt.Client, _userdata: Any, mid: int, _reason: Any, _props: Any) -> None:
        """The broker answered one of our publications: held confirmations may go."""
        with self._lock:
            if mid in self._unanswered:
                self._unanswered.discard(mid)
                self._release_held()
            else:
                self._answered_early.add(mid)

    def _handle_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        with self._lock:
            self._connection += 1
            self._held.clear()  # stale now: the broker delivers those messages again
        self._connected.clear()
        if self._stopping:
            return
        quick = self._connected_at and time.monotonic() - self._connected_at < QUICK_DROP_S
        self._quick_drops = self._quick_drops + 1 if quick else 0
        self._connected_at = 0.0
        if self._quick_drops >= QUICK_DROPS_FOR_TAKEOVER:
            # MQTT 3.1.1 gives no reason: the broker closing each session right after it opened is
            # what another client connecting with the same id looks like.
            self._error = (
                f"the broker closed our session {self._quick_drops} times right after it opened: another "
                f"process probably uses the MQTT client id {self._client_id!r} (SPEEDLEDGER_MQTT_CLIENT_ID)"
            )
            log.error("%s", self._error)
        else:
            self._error = f"disconnected from the broker: {reason}"
            log.warning("MQTT disconnected: %s", reason)

    def _handle_message(self, client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        delivery = Delivery(self._connection, message.mid, message.qos)
        if not any(mqtt.topic_matches_sub(pattern, message.topic) for pattern in self._filters):
            # A broker bug (amqtt 0.12 hands out unrelated retained messages on subscribe): not ours.
            log.warning("ignoring a message on %s, which matches none of our subscriptions", message.topic)
            if message.qos > 0:
                client.ack(message.mid, message.qos)
            return
        self._on_message(Received(message.topic, bytes(message.payload), bool(message.retain), now_ms(), delivery))
