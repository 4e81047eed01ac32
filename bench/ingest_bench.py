"""Ingest benchmark: signed publish -> verified, committed, acked, against bare QoS 1 through the same broker.

Both runs use one real mosquitto, in the same process run, with the same payloads:
- baseline: a plain echo consumer (auto PUBACK) answers every message with a QoS 1 reply;
- ingest: central's ingest (strict parse, Ed25519 verify, append in one SQLite transaction
  (synchronous=FULL), ack after commit, PUBACK after the ack).
Each is measured at a fixed offered load (latency p50/p99 publish -> reply) and in a burst
(throughput). Messages are signed before the clock starts: signing is the radar's cost.

    .venv/bin/python bench/ingest_bench.py [--rate 200] [--seconds 10] [--burst 3000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
RADARS = "speedledger/v1/radars/"
sys.path.insert(0, str(ROOT))  # reuse the test suite's mosquitto launcher and signing radar

from speedledger.central.bootstrap import Settings, bootstrap  # noqa: E402
from speedledger.central.ingest.service import Ingest, IngestSettings  # noqa: E402
from speedledger.central.radars.commands import RegisterRadar  # noqa: E402
from tests.fixtures.mosquitto import Mosquitto, free_port  # noqa: E402
from tests.ingest.harness import SigningRadar  # noqa: E402


def _client(port: int, on_message: Callable[[mqtt.Client, Any, mqtt.MQTTMessage], None] | None = None) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(0)
    client.max_queued_messages_set(0)
    if on_message is not None:
        client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


class RoundTrips:
    """Publishes payloads on a schedule and records when each one's reply (keyed by event_id) arrives."""

    def __init__(self, port: int, reply_topic: str) -> None:
        self.sent: dict[str, float] = {}
        self.replied: dict[str, float] = {}
        self._done = threading.Condition()
        subscribed = threading.Event()
        self.client = _client(port, self._on_reply)
        self.client.on_subscribe = lambda *_args: subscribed.set()
        self.client.subscribe(reply_topic, qos=1)
        subscribed.wait(10)

    def _on_reply(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        event_id = json.loads(message.payload)["event_id"]
        with self._done:
            self.replied.setdefault(event_id, time.perf_counter())
            self._done.notify_all()

    def run(self, topic: str, messages: list[dict[str, Any]], rate: float | None) -> float:
        """Send all (at `rate` per second, or as fast as possible); returns seconds until the last reply."""
        payloads = [(message["event_id"], json.dumps(message).encode()) for message in messages]
        start = time.perf_counter()
        for index, (event_id, payload) in enumerate(payloads):
            if rate is not None:
                delay = start + index / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            self.sent[event_id] = time.perf_counter()
            self.client.publish(topic, payload, qos=1)
        with self._done:
            self._done.wait_for(lambda: all(event_id in self.replied for event_id, _ in payloads), timeout=300)
        missing = sum(1 for event_id, _ in payloads if event_id not in self.replied)
        if missing:
            raise RuntimeError(f"{missing} messages got no reply")
        return max(self.replied[event_id] for event_id, _ in payloads) - start

    def latencies_ms(self, messages: list[dict[str, Any]]) -> list[float]:
        return [(self.replied[m["event_id"]] - self.sent[m["event_id"]]) * 1000 for m in messages]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _echo(port: int) -> mqtt.Client:
    """The baseline consumer: every message answered at once with a QoS 1 reply, PUBACK automatic."""

    def reply(client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        event_id = json.loads(message.payload)["event_id"]
        client.publish("bench/bare/acks", json.dumps({"event_id": event_id}), qos=1)

    subscribed = threading.Event()
    client = _client(port, reply)
    client.on_subscribe = lambda *_args: subscribed.set()
    client.subscribe("bench/bare/violations", qos=1)
    subscribed.wait(10)
    return client


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _line(name: str, latencies: list[float]) -> str:
    return (
        f"  {name:<8} p50 {statistics.median(latencies):7.2f} ms   p99 {_percentile(latencies, 0.99):7.2f} ms   "
        f"max {max(latencies):7.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0, help="offered load, messages per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of the fixed-load run")
    parser.add_argument("--burst", type=int, default=3000, help="messages in the throughput run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as workdir:
        broker = Mosquitto(port=free_port(), workdir=Path(workdir))
        broker.start()
        central = bootstrap(Settings(db_url=f"sqlite:///{workdir}/bench.db", secret="b" * 32, demo=True))
        radar = SigningRadar("BENCH-1")
        central.bus.handle(
            RegisterRadar(
                radar_id=radar.radar_id,
                name="bench",
                latitude=0.0,
                longitude=0.0,
                speed_limit_kmh=90,
                public_key=radar.public_key_b64,
            )
        )
        ingest = Ingest(
            central.store,
            IngestSettings(mqtt_url=broker.url, client_id="bench-central", config_key_path=Path(workdir) / "key.pem"),
        )
        ingest.start(wait_s=10)
        echo = _echo(broker.port)
        count = int(args.rate * args.seconds)
        try:
            fixed = {}
            for name, topic, reply in [
                ("bare", "bench/bare/violations", "bench/bare/acks"),
                (
                    "ingest",
                    f"speedledger/v1/radars/{radar.radar_id}/violations",
                    f"speedledger/v1/radars/{radar.radar_id}/acks",
                ),
            ]:
                messages = [radar.violation() for _ in range(count)]
                trips = RoundTrips(broker.port, reply)
                trips.run(topic, messages, args.rate)
                fixed[name] = trips.latencies_ms(messages)
                burst = [radar.violation() for _ in range(args.burst)]
                elapsed = trips.run(topic, burst, None)
                fixed[name + "_burst"] = [args.burst / elapsed]
                trips.close()
        finally:
            echo.loop_stop()
            echo.disconnect()
            ingest.stop()
            central.close()
            broker.stop()

    print(f"mosquitto + SQLite (WAL, synchronous=FULL); {args.rate:.0f} msg/s offered for {args.seconds:.0f} s")
    print(_line("bare", fixed["bare"]))
    print(_line("ingest", fixed["ingest"]))
    p50_ratio = statistics.median(fixed["ingest"]) / statistics.median(fixed["bare"])
    p99_ratio = _percentile(fixed["ingest"], 0.99) / _percentile(fixed["bare"], 0.99)
    print(f"  ratio ingest/bare: p50 x{p50_ratio:.2f}, p99 x{p99_ratio:.2f}")
    bare_rate, ingest_rate = fixed["bare_burst"][0], fixed["ingest_burst"][0]
    print(
        f"burst of {args.burst}: bare {bare_rate:.0f} msg/s, ingest {ingest_rate:.0f} msg/s (x{ingest_rate / bare_rate:.2f})"
    )
    commits = REGISTRY.get_sample_value("speedledger_ingest_commit_seconds_count") or 1
    commit_ms = (REGISTRY.get_sample_value("speedledger_ingest_commit_seconds_sum") or 0) / commits * 1000
    per_commit = (REGISTRY.get_sample_value("speedledger_ingest_batch_size_sum") or 0) / commits
    print(f"ingest commits: {commits:.0f}, {per_commit:.1f} messages and {commit_ms:.2f} ms each on average")


if __name__ == "__main__":
    main()
