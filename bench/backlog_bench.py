"""Backlog benchmark (issue 16): a fleet back from an outage, every radar re-sending its journal at once.

`--radars` registered radars (each with a periodic verification in force, so every violation over
the limit becomes an infraction) have each journaled `--per-radar` signed violations while central
was unreachable. Each radar is a paho client with a persistent session (clean_session=False, its
own client id, subscribed to its acks before the outage), and delivers its journal with the radar
agent's own delivery logic (`edge.core.outbox.Outbox`: at most 16 events awaiting an ack, oldest
first, re-sent on the live connection only when central answered nothing for 30 s or twice its
answer time, backing off). All radars reconnect at the same instant to one real
mosquitto (deploy/mosquitto.conf), with `speedledger central` in its own process on SQLite.

Reported, for a backlog of 1/10 of the size and then the full one (same radars; the smaller run is
the baseline memory must be compared with):
- drain time: from the reconnection until every violation is acked, and until every infraction is
  in the read model `GET /api/v1/infractions` lists (counted in the database, by event_id);
- central's RSS (VmRSS from /proc, sampled every 100 ms): at the start and at its peak; the goal
  (issue 16: memory bounded) is a peak at most `PEAK_GOAL` times the tenth's;
- lost (journaled, never listed) and doubled (listed more than once) violations: both must be 0;
  acks by result (a re-sent violation is acked `duplicate`) and re-sends.

    .venv/bin/python bench/backlog_bench.py [--radars 1000] [--per-radar 1000] [--processes 4]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue
import signal
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

import paho.mqtt.client as mqtt
from ingest_bench import CentralProcess, register
from load_bench import rss_mib, settle
from paho.mqtt.enums import CallbackAPIVersion
from traced_central import FRAMES

from speedledger.central.entrypoints.process_memory import memory_map
from speedledger.edge.core.outbox import Outbox
from speedledger.shared import canonical, topics
from tests.fixtures.mosquitto import free_port
from tests.ingest.deployed import DeployedMosquitto
from tests.ingest.harness import SigningRadar

#: Over the 90 km/h limit the radars are registered with, so each violation becomes an infraction.
MEASURED_CKMH = 11_500
#: Central's peak RSS for ten times the backlog, at most this many times the tenth's: roughly flat.
PEAK_GOAL = 1.15
#: The outage the journals were filled during.
OUTAGE_MS = 3_600_000


@dataclass
class JournalEntry:
    event_id: str
    payload: bytes
    evidence_length: int = 0


class MemoryJournal:
    """A radar's journal of pre-signed violations, in memory, with the interface `Outbox` uses.

    `pending()` gives only the oldest unacked entries, as many as the outbox's window: the outbox never
    publishes further than that (it sends oldest first, at most `window` awaiting an ack), and listing
    a thousand entries on every ack would make the simulator, not central, the bottleneck.
    """

    def __init__(self, entries: list[JournalEntry], window: int) -> None:
        self._pending = {entry.event_id: entry for entry in entries}
        self._window = window

    def pending(self) -> list[JournalEntry]:
        oldest = []
        for entry in self._pending.values():
            oldest.append(entry)
            if len(oldest) == self._window:
                break
        return oldest

    def payload(self, entry: JournalEntry) -> bytes:
        return entry.payload

    def evidence(self, entry: JournalEntry) -> bytes:
        return b""

    def ack(self, event_id: str, result: str) -> bool:
        return self._pending.pop(event_id, None) is not None

    def __len__(self) -> int:
        return len(self._pending)


class Transport:
    """What `Outbox` publishes through: the radar's paho client."""

    def __init__(self, client: mqtt.Client) -> None:
        self.client = client

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> bool:
        return self.client.publish(topic, payload, qos, retain).rc == mqtt.MQTT_ERR_SUCCESS


def journal(radar: SigningRadar, count: int, end_ms: int) -> list[JournalEntry]:
    """`count` signed violations spread over the outage, each plate registered nowhere (unidentified)."""
    entries = []
    for index in range(count):
        message = radar.violation(
            plate=f"BL{uuid.uuid4().hex[:8].upper()}",
            measured_speed_ckmh=MEASURED_CKMH,
            detected_at_ms=end_ms - OUTAGE_MS + index * OUTAGE_MS // count,
        )
        entries.append(JournalEntry(message["event_id"], canonical.dumps(message)))
    return entries


@dataclass
class FleetResult:
    journaled: list[str] = field(default_factory=list)
    acks: dict[str, int] = field(default_factory=dict)
    published: int = 0
    last_ack: float = 0.0


def fleet(
    radars: list[SigningRadar],
    per_radar: int,
    port: int,
    ready: EventType,
    go: EventType,
    results: multiprocessing.Queue[FleetResult],
) -> None:
    """One simulator process: its radars' journals, sessions made before the outage, then at `go`
    every radar reconnects and delivers until its journal is empty. One thread drives every outbox."""
    end_ms = time.time_ns() // 1_000_000
    entries = [journal(radar, per_radar, end_ms) for radar in radars]
    result = FleetResult(journaled=[entry.event_id for radar_entries in entries for entry in radar_entries])
    journals = [MemoryJournal(radar_entries, window=16) for radar_entries in entries]
    inbox: queue.Queue[tuple[int, bytes | None]] = queue.Queue()
    clients = []
    for index, radar in enumerate(radars):
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"radar-{radar.radar_id}", clean_session=False)
        client.max_inflight_messages_set(32)  # as the radar agent's transport
        subscribed = threading.Event()
        client.on_subscribe = lambda *_args, subscribed=subscribed: subscribed.set()
        client.connect("127.0.0.1", port)
        client.loop_start()
        client.subscribe(topics.acks(radar.radar_id), qos=1)
        if not subscribed.wait(30):
            raise RuntimeError(f"{radar.radar_id} could not subscribe to its acks")
        client.disconnect()  # the outage: the broker keeps the session and its subscription
        client.loop_stop()
        client.on_connect = lambda *_args, index=index: inbox.put((index, None))
        client.on_message = lambda _client, _userdata, message, index=index: inbox.put((index, message.payload))
        clients.append(client)
    outboxes = [Outbox(j, radar.radar_id, Transport(c)) for j, radar, c in zip(journals, radars, clients, strict=True)]
    ready.set()
    go.wait()
    for client in clients:
        client.connect_async("127.0.0.1", port)
        client.loop_start()
    waiting = len(radars)
    next_poll = time.monotonic() + 1
    while waiting:
        try:
            index, payload = inbox.get(timeout=0.5)
        except queue.Empty:
            index, payload = -1, None
        now_ms = int(time.monotonic() * 1000)
        if index >= 0:
            outbox = outboxes[index]
            if payload is None:
                outbox.on_connect(now_ms)
            elif outbox.on_ack(payload) is not None:
                result.last_ack = time.monotonic()
                if not len(journals[index]):
                    waiting -= 1
            outbox.poll(now_ms)
        if time.monotonic() >= next_poll:  # re-sends of what stayed unacked
            for outbox in outboxes:
                outbox.poll(now_ms)
            next_poll = time.monotonic() + 1
    for client in clients:
        client.disconnect()
        client.loop_stop()
    for outbox in outboxes:
        result.published += outbox.published
        for name, count in outbox.acked.items():
            result.acks[name] = result.acks.get(name, 0) + count
    results.put(result)


class RssSampler:
    """VmRSS of a process every 100 ms, in a thread, until stopped; with its memory map by kind near
    the peak (read again when a new peak is 1 MiB above the last one read, at most once a second).
    With `traced`, central runs under `traced_central.py`, told (SIGUSR1) to dump a tracemalloc
    snapshot at a new peak 2 MiB above the last dump's, at most every 10 s (the last is near the peak;
    the first signal, sent by the caller before the drain, starts the tracing)."""

    def __init__(self, pid: int, traced: bool = False) -> None:
        self.pid = pid
        self.traced = traced
        self.dumps = 0
        self.samples: list[float] = [rss_mib(pid)]
        self.peak_map: dict[str, float] = memory_map(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        mapped_at, mapped_rss = time.monotonic(), self.samples[0]
        dumped_at, dumped_rss = mapped_at, self.samples[0]
        while not self._stop.wait(0.1):
            rss = rss_mib(self.pid)
            self.samples.append(rss)
            if rss > mapped_rss + 1 and time.monotonic() - mapped_at >= 1:
                self.peak_map = memory_map(self.pid)
                mapped_at, mapped_rss = time.monotonic(), rss
            if self.traced and rss > dumped_rss + 2 and time.monotonic() - dumped_at >= 10:
                self.dump()
                dumped_at, dumped_rss = time.monotonic(), rss

    def dump(self) -> None:
        """A tracemalloc snapshot of the traced central (`traced_central.py` writes it)."""
        os.kill(self.pid, signal.SIGUSR1)
        self.dumps += 1

    def stop(self) -> tuple[float, float]:
        """(at the start, peak) in MiB."""
        self._stop.set()
        self._thread.join()
        return self.samples[0], max(self.samples)


def listed(db_path: Path) -> dict[str, int]:
    """How many rows of the infractions read model each violation (event_id) has."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        return dict(conn.execute("SELECT event_id, count(*) FROM infractions GROUP BY event_id").fetchall())


def infraction_count(db_path: Path) -> int:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        count: int = conn.execute("SELECT count(*) FROM infractions").fetchone()[0]
        return count


@dataclass
class BacklogRun:
    violations: int
    acked_s: float
    listed_s: float
    rss_mib: tuple[float, float]
    lost: int
    doubled: int
    acks: dict[str, int]
    resent: int
    memory: dict[str, float]
    disconnects: int


def split(items: list[SigningRadar], parts: int) -> Iterator[list[SigningRadar]]:
    for part in range(parts):
        yield items[part::parts]


def run_backlog(
    radar_count: int, per_radar: int, processes: int, trace: Path | None = None, frames: int = FRAMES
) -> BacklogRun:
    """One drain; with `trace`, central under `traced_central.py` dumping snapshots (tracemalloc's with
    `frames`; 0: only the sizes) into that directory."""
    with tempfile.TemporaryDirectory(prefix="backlog-bench-") as directory:
        workdir = Path(directory)
        db_path = workdir / "central.db"
        broker = DeployedMosquitto(free_port(), workdir)  # deploy/mosquitto.conf, anonymous
        broker.start()
        radars = [SigningRadar(f"BACKLOG-{number:04d}") for number in range(radar_count)]
        register(f"sqlite:///{db_path}", radars)
        context = multiprocessing.get_context("fork")  # the radars' keys go to the simulators as they are
        ready = [context.Event() for _ in range(processes)]
        go = context.Event()
        results: multiprocessing.Queue[FleetResult] = context.Queue()
        simulators = [
            context.Process(target=fleet, args=(part, per_radar, broker.port, flag, go, results), daemon=True)
            for part, flag in zip(split(radars, processes), ready, strict=True)
        ]
        for simulator in simulators:
            simulator.start()
        traced = () if trace is None else (str(Path(__file__).with_name("traced_central.py")), str(trace), str(frames))
        launcher = traced or ("-m", "speedledger")
        central = None
        try:
            for flag in ready:  # journals signed (every core busy) before central starts
                if not flag.wait(1800):
                    raise RuntimeError("a simulator did not get ready")
            central = CentralProcess.start(workdir, f"sqlite:///{db_path}", broker, launcher=launcher)
            sampler = RssSampler(central.process.pid, traced=trace is not None)
            if trace is not None:
                sampler.dump()  # the first signal starts the tracing
            started = time.monotonic()
            go.set()
            fleets = [results.get(timeout=7200) for _ in simulators]
            acked_s = max(result.last_ack for result in fleets) - started
            total = radar_count * per_radar
            while infraction_count(db_path) < total and time.monotonic() - started < 7200:
                time.sleep(0.2)
            listed_s = time.monotonic() - started
            rss = sampler.stop()
            settle(central.http)
            if trace is not None:  # the last snapshot: after the drain
                sampler.dump()
                last = trace / f"snapshot-{sampler.dumps - 1}.json"
                while not last.exists() and time.monotonic() - started < 7200:
                    time.sleep(0.5)
        finally:
            if central is not None:
                central.stop()
            broker.stop()
            for simulator in simulators:
                simulator.join(30)
        journaled = [event_id for result in fleets for event_id in result.journaled]
        rows = listed(db_path)
        acks: dict[str, int] = {}
        for result in fleets:
            for name, count in result.acks.items():
                acks[name] = acks.get(name, 0) + count
        return BacklogRun(
            violations=len(journaled),
            acked_s=acked_s,
            listed_s=listed_s,
            rss_mib=rss,
            lost=sum(1 for event_id in journaled if event_id not in rows),
            doubled=sum(count - 1 for count in rows.values()),
            acks=acks,
            resent=sum(result.published for result in fleets) - len(journaled),
            memory=sampler.peak_map,
            disconnects=Path(central.log.name).read_text().count("MQTT disconnected"),
        )


def report(name: str, run: BacklogRun) -> None:
    print(f"{name}: {run.violations:,} violations; every one acked after {run.acked_s:.1f} s "
          f"({run.violations / run.acked_s:.0f}/s), every infraction listed after {run.listed_s:.1f} s; "
          f"central RSS {run.rss_mib[0]:.0f} MiB at the start, {run.rss_mib[1]:.0f} MiB at the peak; "
          f"lost {run.lost}, doubled {run.doubled}; acks {json.dumps(run.acks)}, re-sent {run.resent}; "
          f"central's MQTT session dropped {run.disconnects} times; resident near the peak: "
          + ", ".join(f"{kind} {mib:.0f} MiB" for kind, mib in run.memory.items()))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--radars", type=int, default=1000)
    parser.add_argument("--per-radar", type=int, default=1000, help="journaled violations per radar")
    parser.add_argument("--processes", type=int, default=4, help="simulator processes sharing the radars")
    parser.add_argument("--trace", type=Path, help="run central under tracemalloc, snapshots in DIR/tenth, DIR/full")
    parser.add_argument(
        "--frames", type=int, default=FRAMES, help="with --trace: frames per allocation, 0 for sizes only"
    )
    args = parser.parse_args()
    print(f"{args.radars} radars reconnecting at once to mosquitto (deploy config), central on SQLite; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
    tenth = max(1, args.per_radar // 10)
    small = run_backlog(args.radars, tenth, args.processes, args.trace and args.trace / "tenth", args.frames)
    report(f"baseline, {tenth} per radar (1/10)", small)
    sys.stdout.flush()
    full = run_backlog(args.radars, args.per_radar, args.processes, args.trace and args.trace / "full", args.frames)
    report(f"backlog, {args.per_radar} per radar", full)
    peak_ratio = full.rss_mib[1] / small.rss_mib[1]
    print(f"peak RSS x{peak_ratio:.2f} of the 1/10 backlog's for x{full.violations / small.violations:.0f} the "
          f"violations (goal: at most x{PEAK_GOAL}, {'met' if peak_ratio <= PEAK_GOAL else 'NOT met'}); "
          f"lost + doubled = {full.lost + full.doubled + small.lost + small.doubled}")  # fmt: skip
    if full.lost or full.doubled or small.lost or small.doubled:
        raise SystemExit("backlog_bench: violations lost or doubled")


if __name__ == "__main__":
    main()
