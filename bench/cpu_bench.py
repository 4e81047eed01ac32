"""Central's CPU per violation in process, by batch size: the ingest's commit path and the projection runner.

`load_bench.py` measures central under road traffic through a real broker, and its CPU figures move
with how the shared machine happens to batch the messages. This bench takes the broker and the timing
out: in one thread, on a fresh database (SQLite as shipped, or PostgreSQL), 20 registered radars,
pre-signed violations every one over the limit (each becomes an infraction), each the canonical JSON
a radar sends (`edge.core.violation.payload`):
- ingest: the pipeline's check stage and commit stage (`Pipeline.check`, `Pipeline.commit`: decode,
  radar lookups, Ed25519 verify, one append, acks encoded) on batches of `--ingest-batches` messages;
- runner: after every `--round` violations, one catch-up of every projection and the process manager
  to the head as it was (as the runner's round every 20 ms carries 4 violations at 200/s, 10 at 500/s).
The figure is the thread's CPU time (`time.thread_time`) per violation; each size is measured
`--repeat` times, the lowest kept (the least disturbed by other jobs).

    .venv/bin/python bench/cpu_bench.py [--messages 600] [--ingest-batches 1,2,10,50] [--rounds 4,10,50]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from ingest_bench import SECRET
from load_bench import MEASURED_CKMH, Traffic, database, radar_topic

from speedledger.central.bootstrap import Central, Settings, bootstrap
from speedledger.central.ingest.mqtt import Delivery, Received
from speedledger.central.ingest.pipeline import Pipeline
from speedledger.central.ingest.tables import create_tables
from speedledger.central.radars.lookup import radar_cache
from speedledger.edge.core.violation import payload
from tests.ingest.harness import SigningRadar


class NoTransport:
    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        pass

    def confirm(self, deliveries: Iterable[Delivery]) -> None:
        pass


def received(traffic: Traffic, count: int) -> list[Received]:
    now_ms = time.time_ns() // 1_000_000
    encoded = [(radar_topic(message), payload(message)) for message in traffic.violations(count)]
    return [Received(topic, payload, False, now_ms, Delivery(1, n, 1)) for n, (topic, payload) in enumerate(encoded)]


def ingest_ms(central: Central, pipeline: Pipeline, traffic: Traffic, batch: int, count: int) -> float:
    """CPU ms per violation of check + commit in batches of `batch` (the runner not running)."""
    messages = received(traffic, count)
    started = time.thread_time()
    for start in range(0, count, batch):
        pipeline.commit(pipeline.check(messages[start : start + batch]))
    spent = time.thread_time() - started
    central.runner.catch_up()  # not measured: leaves the next run a caught-up log
    return spent * 1000 / count


def runner_ms(central: Central, pipeline: Pipeline, traffic: Traffic, round_size: int, count: int) -> float:
    """CPU ms per violation of the runner, catching up after every `round_size` violations appended."""
    messages = received(traffic, count)
    spent = 0.0
    for start in range(0, count, round_size):
        pipeline.commit(pipeline.check(messages[start : start + round_size]))
        started = time.thread_time()
        central.runner.catch_up(until=central.store.last_position())
        spent += time.thread_time() - started
    started = time.thread_time()
    central.runner.catch_up()  # the last round's decisions
    spent += time.thread_time() - started
    return spent * 1000 / count


def bench(store: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as workdir, database(store, Path(workdir), "cpu") as db_url:
        central = bootstrap(Settings(db_url=db_url, secret=SECRET, demo=True))
        try:
            create_tables(central.engine)
            radars = [SigningRadar(f"CPU-{number:02d}") for number in range(20)]
            for radar in radars:
                central.bus.handle(radar.registration("bench"))
            pipeline = Pipeline(central.store, radar_cache(central.store).lookup, NoTransport(), central.recording)
            traffic = Traffic(radars, 0)
            ingest_ms(central, pipeline, traffic, 10, 200)  # warm-up: caches, statements, pages
            print(f"\n== {store}: CPU ms per violation (lowest of {args.repeat}), {args.messages} violations each")
            for batch in args.ingest_batches:
                runs = [ingest_ms(central, pipeline, traffic, batch, args.messages) for _ in range(args.repeat)]
                print(f"  ingest, commits of {batch:3d}: {min(runs):.3f} ms")
            for round_size in args.rounds:
                runs = [runner_ms(central, pipeline, traffic, round_size, args.messages) for _ in range(args.repeat)]
                print(f"  runner, rounds of {round_size:3d}: {min(runs):.3f} ms")
        finally:
            central.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", default="sqlite", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--messages", type=int, default=600, help="violations per measurement")
    parser.add_argument("--ingest-batches", default="1,2,10,50", help="messages per ingest commit")
    parser.add_argument("--rounds", default="4,10,50", help="violations per runner round")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    args.ingest_batches = [int(size) for size in args.ingest_batches.split(",")]
    args.rounds = [int(size) for size in args.rounds.split(",")]
    assert MEASURED_CKMH > 9000  # over the radars' 90 km/h: every violation an infraction
    for store in args.stores.split(","):
        bench(store, args)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
