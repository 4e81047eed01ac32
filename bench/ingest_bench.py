"""Ingest benchmark: signed publish -> verified, committed, acked, against bare QoS 1 through the same broker.

Both runs use one real mosquitto (deploy/mosquitto.conf, anonymous), in the same run, same payloads,
each consumer in its own process:
- baseline: a plain echo consumer (paho, auto PUBACK) answers every message with a QoS 1 reply;
- ingest: `speedledger central` (strict parse, Ed25519 verify, append in one SQLite transaction
  (synchronous=FULL), ack after commit, PUBACK after the ack; projections and API running too).
Each is measured at a fixed offered load (latency p50/p99 publish -> reply) and in a burst
(throughput). Messages are signed before the clock starts: signing is the radar's cost.

    .venv/bin/python bench/ingest_bench.py [--rates 20,200] [--seconds 10] [--burst 3000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
RADARS = "speedledger/v1/radars/"
#: The topic each message goes to (one per radar).
Route = Callable[[dict[str, Any]], str]
BARE_TOPIC, BARE_ACKS = "bench/bare/violations", "bench/bare/acks"
SECRET = "b" * 40
sys.path.insert(0, str(ROOT))  # reuse the test suite's mosquitto launcher and signing radar

from speedledger.central.bootstrap import Settings, bootstrap  # noqa: E402
from speedledger.central.ingest.config_push import ConfigKey  # noqa: E402
from speedledger.shared import canonical  # noqa: E402
from speedledger.shared.broker import set_nodelay  # noqa: E402
from tests.fixtures.mosquitto import free_port  # noqa: E402
from tests.ingest.deployed import DeployedMosquitto  # noqa: E402
from tests.ingest.harness import SigningRadar  # noqa: E402

OnMessage = Callable[[mqtt.Client, Any, mqtt.MQTTMessage], None]


def mqtt_client(port: int, on_message: OnMessage | None = None) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(0)
    client.max_queued_messages_set(0)
    if on_message is not None:
        client.on_message = on_message
    client.on_connect = lambda client, *_args: set_nodelay(client)  # as central does
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
        self.client = mqtt_client(port, self._on_reply)
        self.client.on_subscribe = lambda *_args: subscribed.set()
        self.client.subscribe(reply_topic, qos=1)
        subscribed.wait(10)

    def _on_reply(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        event_id = json.loads(message.payload)["event_id"]
        with self._done:
            self.replied.setdefault(event_id, time.perf_counter())
            self._done.notify_all()

    def run(self, topic: str | Route, messages: list[dict[str, Any]], rate: float | None) -> float:
        """Send all to `topic` (or the topic it gives each message) at `rate` per second, or as fast as
        possible; returns seconds until the last reply."""
        route = topic if callable(topic) else lambda _message: topic
        payloads = [(message["event_id"], route(message), canonical.dumps(message)) for message in messages]
        start = time.perf_counter()
        for index, (event_id, destination, payload) in enumerate(payloads):
            if rate is not None:
                delay = start + index / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            self.sent[event_id] = time.perf_counter()
            self.client.publish(destination, payload, qos=1)
        with self._done:
            self._done.wait_for(lambda: all(event_id in self.replied for event_id, _, _ in payloads), timeout=300)
        missing = sum(1 for event_id, _, _ in payloads if event_id not in self.replied)
        if missing:
            raise RuntimeError(f"{missing} messages got no reply")
        return max(self.replied[event_id] for event_id, _, _ in payloads) - start

    def latencies_ms(self, messages: list[dict[str, Any]]) -> list[float]:
        return [(self.replied[m["event_id"]] - self.sent[m["event_id"]]) * 1000 for m in messages]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def echo_forever(port: int) -> None:
    """The baseline consumer (`--echo PORT`): every message answered at once with a QoS 1 reply."""

    def reply(client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        event_id = json.loads(message.payload)["event_id"]
        client.publish(BARE_ACKS, json.dumps({"event_id": event_id}), qos=1)

    subscribed = threading.Event()
    echo = mqtt_client(port, reply)
    echo.on_subscribe = lambda *_args: subscribed.set()
    echo.subscribe(BARE_TOPIC, qos=1)
    subscribed.wait(10)
    print("ready", flush=True)
    threading.Event().wait()


def wait_for(port: int, topic: str, accept: Callable[[bytes], bool], timeout: float = 60) -> None:
    """Until a message on `topic` (retained ones included) passes `accept`."""
    arrived = threading.Event()

    def check(_client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        if accept(message.payload):
            arrived.set()

    waiter = mqtt_client(port, check)
    waiter.subscribe(topic, qos=1)
    try:
        if not arrived.wait(timeout):
            raise RuntimeError(f"nothing acceptable on {topic} within {timeout} s")
    finally:
        waiter.disconnect()
        waiter.loop_stop()


def wait_for_http(http: str, timeout: float = 60) -> None:
    """Until central's API at `http` answers /health."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://{http}/health", timeout=10):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def ingest_metrics(http: str) -> dict[str, float]:
    """The ingest's Prometheus counters, from central's /metrics."""
    with urllib.request.urlopen(f"http://{http}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("speedledger_ingest_") and "le" not in sample.labels
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def latency_line(name: str, latencies: list[float]) -> str:
    return (
        f"  {name:<8} p50 {statistics.median(latencies):7.2f} ms   p99 {percentile(latencies, 0.99):7.2f} ms   "
        f"max {max(latencies):7.2f} ms"
    )


def register(db_url: str, radars: list[SigningRadar]) -> None:
    central = bootstrap(Settings(db_url=db_url, secret=SECRET, demo=True))
    try:
        for radar in radars:
            central.bus.handle(radar.registration("bench"))
    finally:
        central.close()


@dataclass
class CentralProcess:
    """`speedledger central` in its own process (API, projections, ingest), on `db_url`."""

    process: subprocess.Popen[bytes]
    http: str
    log: IO[bytes]

    @classmethod
    def start(
        cls,
        workdir: Path,
        db_url: str,
        broker: DeployedMosquitto,
        name: str = "bench-central",
        share_group: str = "",
        options: tuple[str, ...] = (),
        launcher: tuple[str, ...] = ("-m", "speedledger"),
    ) -> CentralProcess:
        """Started and online at the broker (with `--no-ingest` in `options`: its API answering); with
        `share_group`, one ingest worker of that group; `options` for `speedledger central`; `launcher`:
        what Python runs instead of `-m speedledger` (e.g. `bench/traced_central.py DIR`)."""
        http = f"127.0.0.1:{free_port()}"
        env = {
            **os.environ,
            "SPEEDLEDGER_DB": db_url,
            "SPEEDLEDGER_MQTT": broker.url,
            "SPEEDLEDGER_HTTP": http,
            "SPEEDLEDGER_SECRET": SECRET,
            "SPEEDLEDGER_MQTT_CLIENT_ID": name,
            "SPEEDLEDGER_CONFIG_KEY": f"{workdir}/config-key.pem",
            "SPEEDLEDGER_MQTT_SHARE_GROUP": share_group,
        }
        ConfigKey.load_or_create(workdir / "config-key.pem")  # what `speedledger central config-key --create` does
        log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115 - owned by the process
        command = [sys.executable, *launcher, "central", *options]
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        if "--no-ingest" in options:
            wait_for_http(http)
        else:
            wait_for(broker.port, f"speedledger/v1/central/{name}/status", lambda body: b'"online"' in body)
        return cls(process, http, log)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(20)
        self.log.close()


class EchoProcess:
    """The baseline consumer in its own process (this file with `--echo PORT`)."""

    def __init__(self, port: int) -> None:
        self.process = subprocess.Popen([sys.executable, __file__, "--echo", str(port)], stdout=subprocess.PIPE)
        assert self.process.stdout is not None and self.process.stdout.readline().strip() == b"ready"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="20,200", help="offered loads, messages per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each fixed-load run")
    parser.add_argument("--burst", type=int, default=3000, help="messages in the throughput run")
    parser.add_argument("--echo", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo:
        echo_forever(args.echo)
        return
    rates = [float(rate) for rate in args.rates.split(",")]

    with tempfile.TemporaryDirectory() as workdir:
        broker = DeployedMosquitto(free_port(), Path(workdir))  # deploy/mosquitto.conf, anonymous
        broker.start()
        db_url = f"sqlite:///{workdir}/bench.db"
        radar = SigningRadar("BENCH-1")
        register(db_url, [radar])
        central = CentralProcess.start(Path(workdir), db_url, broker)
        echo = EchoProcess(broker.port)
        routes = {
            "bare": (BARE_TOPIC, BARE_ACKS),
            "ingest": (f"{RADARS}{radar.radar_id}/violations", f"{RADARS}{radar.radar_id}/acks"),
        }
        latencies: dict[tuple[str, float], list[float]] = {}
        throughput: dict[str, float] = {}
        try:
            for rate in rates:
                for name, (topic, reply) in routes.items():  # alternate, so load drift hits both alike
                    messages = [radar.violation() for _ in range(int(rate * args.seconds))]
                    trips = RoundTrips(broker.port, reply)
                    trips.run(topic, messages, rate)
                    latencies[name, rate] = trips.latencies_ms(messages)
                    trips.close()
            for name, (topic, reply) in routes.items():
                burst = [radar.violation() for _ in range(args.burst)]
                trips = RoundTrips(broker.port, reply)
                throughput[name] = args.burst / trips.run(topic, burst, None)
                trips.close()
            metrics = ingest_metrics(central.http)
        finally:
            central.stop()
            echo.stop()
            broker.stop()

    print(f"mosquitto (deploy config), SQLite (WAL, FULL); {args.seconds:.0f} s per offered load; publish -> reply")
    for rate in rates:
        bare, ingested = latencies["bare", rate], latencies["ingest", rate]
        print(f"{rate:.0f} msg/s offered")
        print(latency_line("bare", bare))
        print(latency_line("ingest", ingested))
        p50 = statistics.median(ingested) / statistics.median(bare)
        p99 = percentile(ingested, 0.99) / percentile(bare, 0.99)
        print(f"  ratio ingest/bare: p50 x{p50:.2f}, p99 x{p99:.2f}")
    bare_rate, ingest_rate = throughput["bare"], throughput["ingest"]
    print(f"burst of {args.burst}: bare {bare_rate:.0f} msg/s, ingest {ingest_rate:.0f} msg/s")
    print(f"  ratio ingest/bare: x{ingest_rate / bare_rate:.2f}")
    commits = metrics.get("speedledger_ingest_commit_seconds_count")
    if commits:  # exposed once the API registers the ingest's collector
        commit_ms = metrics["speedledger_ingest_commit_seconds_sum"] / commits * 1000
        per_commit = metrics["speedledger_ingest_batch_size_sum"] / commits
        print(f"ingest commits: {commits:.0f}, {per_commit:.1f} messages and {commit_ms:.2f} ms each on average")


if __name__ == "__main__":
    main()
