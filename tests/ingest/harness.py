"""Test radars: a registered key pair, signed violations and passages, and a paho client that waits for acks."""

from __future__ import annotations

import contextlib
import hashlib
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from speedledger.central.radars.commands import RegisterRadar
from speedledger.central.radars.metrology import MetrologyRecord
from speedledger.shared import canonical, keys
from tests.fixtures.metrology import VERIFIED

ROOT = "speedledger/v1/radars/"
#: The smallest thing that starts like a JPEG (SOI marker), plus some bytes to hash.
TINY_JPEG = b"\xff\xd8\xff\xe0" + b"speedledger-test-evidence" + b"\xff\xd9"


@dataclass
class SigningRadar:
    radar_id: str
    private_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    next_seq: int = 1

    @property
    def public_key_b64(self) -> str:
        return keys.b64encode(self.private_key.public_key().public_bytes_raw())

    @property
    def key_id(self) -> str:
        return keys.key_id(self.private_key.public_key().public_bytes_raw())

    def violation(self, **overrides: Any) -> dict[str, Any]:
        """A signed violation (fields in `overrides` replace the defaults before signing)."""
        defaults = {
            "detected_at_ms": time.time_ns() // 1_000_000 - 1000,
            "speed_limit_kmh": 90,
            "measured_speed_ckmh": 11_000,
            "image_sha256": "",
            "snr_cdb": 2000,
            "frames": 12,
        }
        return self._signed(defaults | overrides)

    def passage(self, **overrides: Any) -> dict[str, Any]:
        """A signed passage (CONTRACT §6) on the same seq counter as violations."""
        defaults = {
            "passed_at_ms": time.time_ns() // 1_000_000 - 1000,
            "clock_uncertainty_ms": 20,
            "image_sha256": hashlib.sha256(TINY_JPEG).hexdigest(),
        }
        return self._signed(defaults | overrides)

    def _signed(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The next message on the seq counter: the envelope both kinds share, then `fields`, signed. A message
        with a malformed `seq` leaves the counter at 1."""
        unsigned: dict[str, Any] = {
            "v": 1,
            "event_id": str(uuid.uuid4()),
            "radar_id": self.radar_id,
            "seq": self.next_seq,
            "direction": "approaching",
            "plate": "GZ123QK",
            "plate_confidence_pm": 950,
            "firmware": "test-1.0",
            "key_id": self.key_id,
        }
        unsigned.update(fields)
        self.next_seq = max(self.next_seq, int(unsigned["seq"]) + 1) if isinstance(unsigned["seq"], int) else 1
        return self.sign(unsigned)

    def sign(self, unsigned: dict[str, Any]) -> dict[str, Any]:
        signature = self.private_key.sign(canonical.signing_bytes(unsigned))
        return {**unsigned, "sig": keys.b64encode(signature)}

    def registration(
        self, name: str = "test radar", speed_limit_kmh: int = 90, metrology: tuple[MetrologyRecord, ...] = (VERIFIED,)
    ) -> RegisterRadar:
        """The command registering this radar with its key and, by default, a periodic verification in force."""
        return RegisterRadar(
            radar_id=self.radar_id,
            name=name,
            latitude=48.85,
            longitude=2.35,
            speed_limit_kmh=speed_limit_kmh,
            public_key=self.public_key_b64,
            metrology=metrology,
        )


def eventually(condition: Callable[[], Any], timeout_s: float = 10.0) -> Any:
    """`condition()`'s first truthy value, polled every 50 ms; AssertionError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout_s} s")


def with_image(radar: SigningRadar, image: bytes = TINY_JPEG, **overrides: Any) -> dict[str, Any]:
    return radar.violation(image_sha256=hashlib.sha256(image).hexdigest(), **overrides)


class RadarClient:
    """A paho client in the radar's place: publishes QoS 1 and collects its acks by event_id."""

    def __init__(
        self, port: int, radar_id: str, client_id: str | None = None, credentials: tuple[str, str] | None = None
    ) -> None:
        self.radar_id = radar_id
        self.acks: dict[str, list[dict[str, Any]]] = {}
        self._arrived: queue.Queue[dict[str, Any]] = queue.Queue()
        self._lock = threading.Lock()
        # A persistent session, as a radar keeps: acks published while it reconnects wait for it.
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or f"radar-{uuid.uuid4().hex[:8]}", clean_session=False
        )
        if credentials is not None:
            self._client.username_pw_set(*credentials)
        self._client.max_inflight_messages_set(0)
        self._client.max_queued_messages_set(0)
        self.subscribed = subscribed = threading.Event()
        self._client.on_message = self._on_message
        self._client.on_disconnect = lambda *_args: subscribed.clear()
        # (Re)subscribe on every connect: the client reconnects by itself after a broker restart.
        self._client.on_connect = lambda client, *_args: client.subscribe(f"{ROOT}{radar_id}/acks", qos=1)
        self._client.on_subscribe = lambda *_args: subscribed.set()
        self._client.reconnect_delay_set(min_delay=1, max_delay=2)
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        if not subscribed.wait(10):
            raise TimeoutError("radar client could not subscribe to its acks")

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        if not message.topic.endswith("/acks"):
            return  # amqtt 0.12 also hands out unrelated retained messages on subscribe
        ack = json.loads(message.payload)
        with self._lock:
            self.acks.setdefault(ack["event_id"], []).append(ack)
        self._arrived.put(ack)

    def publish(self, suffix: str, payload: bytes, *, retain: bool = False) -> None:
        self._client.publish(f"{ROOT}{self.radar_id}/{suffix}", payload, qos=1, retain=retain).wait_for_publish(10)

    def send(
        self, message: dict[str, Any] | bytes, topic_radar_id: str | None = None, suffix: str = "violations"
    ) -> None:
        payload = message if isinstance(message, bytes) else json.dumps(message).encode()
        topic = f"{ROOT}{topic_radar_id or self.radar_id}/{suffix}"
        self._client.publish(topic, payload, qos=1).wait_for_publish(10)

    def ack_for(self, event_id: str, timeout: float = 10.0, count: int = 1) -> dict[str, Any]:
        """The `count`-th ack for `event_id` (waits for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                got = self.acks.get(event_id, [])
                if len(got) >= count:
                    return got[count - 1]
            with contextlib.suppress(queue.Empty):
                self._arrived.get(timeout=0.05)
        raise TimeoutError(f"no ack #{count} for {event_id} within {timeout} s")

    def wait_acks(self, event_ids: list[str], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if all(event_id in self.acks for event_id in event_ids):
                    return
            time.sleep(0.05)
        with self._lock:
            missing = [event_id for event_id in event_ids if event_id not in self.acks]
        raise TimeoutError(f"{len(missing)} of {len(event_ids)} acks missing after {timeout} s")

    def close(self) -> None:
        self._client.disconnect()  # first: it wakes the network loop, which then stops at once
        self._client.loop_stop()
