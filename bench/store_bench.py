"""Append throughput of speedledger's SQLite event store against the `eventsourcing` library's SQLite
store, measured in the same run, on the same disk, at the same durability (WAL, synchronous=FULL:
both fsync the WAL at every commit). Also: group commit (`append_batch`) and catch-up reads.

    .venv/bin/python bench/store_bench.py [--events 3000] [--batch 100] [--rounds 10] [--postgres postgresql://...]

Contenders run in alternating chunks (a shared disk's fsync latency drifts a lot), so both see the
same conditions; each figure is events over the summed time of its chunks.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

from speedledger.central.eventstore import NO_STREAM, AppendRequest, NewEvent, SqlEventStore, create_event_store
from speedledger.central.eventstore.sqlite import SYNCHRONOUS

#: A violation-sized payload (the signed message plus what central adds), ~560 bytes as JSON.
PAYLOAD = {
    "message": {
        "v": 1,
        "event_id": "6f1c2d4e-8a9b-4c3d-9e8f-7a6b5c4d3e2f",
        "radar_id": "radar-lyon-042",
        "seq": 123456,
        "detected_at_ms": 1767225600000,
        "speed_limit_kmh": 80,
        "measured_speed_ckmh": 10345,
        "direction": "approaching",
        "plate": "AB123CD",
        "plate_confidence_pm": 912,
        "image_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "snr_cdb": 2315,
        "frames": 14,
        "firmware": "1.4.2",
        "key_id": "0123456789abcdef",
        "sig": "x" * 88,
    },
    "received_at_ms": 1767225600123,
    "key_id": "0123456789abcdef",
}


def stored_event() -> StoredEvent:
    """What eventsourcing's JSON transcoder makes of the payload: it is encoded per event, as ours is."""
    return StoredEvent(uuid.uuid4(), 1, "ViolationRecorded", json.dumps(PAYLOAD, separators=(",", ":")).encode())


def interleaved_rates(runs: dict[str, Callable[[int, int], None]], count: int, rounds: int) -> dict[str, float]:
    """Events per second of each `run(offset, n)`, measured in alternating chunks of the same size so
    that a shared disk's fsync latency, which drifts by 10x over minutes, hits every contender alike."""
    chunk = max(1, count // rounds)
    spent = dict.fromkeys(runs, 0.0)
    for round_ in range(rounds):
        order = list(runs) if round_ % 2 == 0 else list(reversed(runs))
        for name in order:
            started = time.perf_counter()
            runs[name](round_ * chunk, chunk)
            spent[name] += time.perf_counter() - started
    return {name: chunk * rounds / seconds for name, seconds in spent.items()}


def eventsourcing_recorder(path: Path) -> SQLiteApplicationRecorder:
    recorder = SQLiteApplicationRecorder(SQLiteDatastore(str(path)))
    recorder.create_table()
    return recorder


def sqlite_synchronous(path: Path) -> int:
    """What a fresh connection to `path` runs with, as eventsourcing leaves it at SQLite's default."""
    with sqlite3.connect(path) as conn:
        value: int = conn.execute("PRAGMA synchronous").fetchone()[0]
        return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=3000, help="events per contender and measurement")
    parser.add_argument("--batch", type=int, default=100, help="events per group commit")
    parser.add_argument("--rounds", type=int, default=10, help="alternating chunks per measurement")
    parser.add_argument("--postgres", help="also measure a PostgreSQL store at this URL (an empty database)")
    args = parser.parse_args()
    count, batch, rounds = args.events, args.batch, args.rounds

    with tempfile.TemporaryDirectory(prefix="store-bench-", dir=Path.cwd()) as tmp:
        ours = create_event_store(f"sqlite:///{tmp}/ours.db")
        theirs = eventsourcing_recorder(Path(tmp) / "theirs.db")
        levels = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
        with ours.engine.connect() as conn:
            ours_sync = levels[conn.exec_driver_sql("PRAGMA synchronous").scalar_one()]
        theirs_sync = levels[sqlite_synchronous(Path(tmp) / "theirs.db")]
        print(f"durability: speedledger synchronous={ours_sync} (configured {SYNCHRONOUS}), "
              f"eventsourcing synchronous={theirs_sync} (SQLite default), both journal_mode=WAL")  # fmt: skip
        if ours_sync != theirs_sync:
            print("WARNING: durability differs, the comparison below is not like for like")

        def ours_single(offset: int, n: int) -> None:
            for k in range(offset, offset + n):
                ours.append(f"violation-r1-{k}", [NewEvent("ViolationRecorded", PAYLOAD)], NO_STREAM)

        def theirs_single(offset: int, n: int) -> None:
            for _ in range(n):
                theirs.insert_events([stored_event()])

        def ours_group(offset: int, n: int) -> None:
            for first in range(offset, offset + n, batch):
                ours.append_batch(
                    [
                        AppendRequest(f"batch-{k}", [NewEvent("ViolationRecorded", PAYLOAD)], NO_STREAM)
                        for k in range(first, min(first + batch, offset + n))
                    ]
                )

        def theirs_group(offset: int, n: int) -> None:
            for first in range(offset, offset + n, batch):
                size = min(batch, offset + n - first)
                theirs.insert_events([stored_event() for _ in range(size)])

        ours_single(10**9, 50)  # warm-up: statement caches, file growth
        theirs_single(0, 50)
        single = interleaved_rates({"ours": ours_single, "theirs": theirs_single}, count, rounds)
        group = interleaved_rates({"ours": ours_group, "theirs": theirs_group}, count * 5, rounds)
        started = time.perf_counter()
        total = catch_up_read(ours)
        read_rate = total / (time.perf_counter() - started)
        ours.close()

    print(f"\nsingle appends (one event a transaction, {count} events each, {rounds} alternating rounds):")
    print(f"  speedledger   {single['ours']:9.0f} events/s")
    print(f"  eventsourcing {single['theirs']:9.0f} events/s")
    print(f"  ratio speedledger/eventsourcing = {single['ours'] / single['theirs']:.2f}")
    print(f"\ngroup commit ({batch} events a transaction):")
    print(f"  speedledger append_batch ({batch} requests, own outcomes) {group['ours']:9.0f} events/s")
    print(f"  eventsourcing insert_events ({batch} events)             {group['theirs']:9.0f} events/s")
    print(f"  ratio speedledger/eventsourcing = {group['ours'] / group['theirs']:.2f}")
    print(f"  group commit vs single appends (speedledger) = {group['ours'] / single['ours']:.1f}x")
    print(f"\ncatch-up read of {total} events (read_all pages of 1000, JSON decoded): {read_rate:9.0f} events/s")

    if args.postgres:
        postgres_bench(args.postgres, count, batch, rounds)


def catch_up_read(store: SqlEventStore) -> int:
    after, total = 0, 0
    while page := store.read_all(after, 1000):
        after, total = page[-1].position, total + len(page)
    return total


def postgres_bench(url: str, count: int, batch: int, rounds: int) -> None:
    store = create_event_store(url)
    run_id = uuid.uuid4().hex[:8]

    def single(offset: int, n: int) -> None:
        for k in range(offset, offset + n):
            store.append(f"pg-{run_id}-{k}", [NewEvent("ViolationRecorded", PAYLOAD)], NO_STREAM)

    def group(offset: int, n: int) -> None:
        for first in range(offset, offset + n, batch):
            store.append_batch(
                [
                    AppendRequest(f"pg-{run_id}-g{k}", [NewEvent("ViolationRecorded", PAYLOAD)], NO_STREAM)
                    for k in range(first, min(first + batch, offset + n))
                ]
            )

    rates = interleaved_rates({"single": single, "group": group}, count, rounds)
    store.close()
    print(f"\nPostgreSQL ({url.rsplit('@', 1)[-1]}): single appends {rates['single']:.0f} events/s, "
          f"group commit {rates['group']:.0f} events/s ({rates['group'] / rates['single']:.1f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
