"""`speedledger central` under tracemalloc, for the benchmarks' memory attribution (not for users).

    python bench/traced_central.py DIR FRAMES central [options]

Runs `speedledger central`; the first SIGUSR1 starts tracemalloc, tracing FRAMES frames per
allocation (from the start, it would slow the imports down to minutes; 0: no tracemalloc, only the
facts below), and each later one writes `DIR/snapshot-N.pickle` (a `tracemalloc.Snapshot`) and
`DIR/snapshot-N.json` (what else says how much is live: `sys.getallocatedblocks()`, tracemalloc's
traced and peak bytes, SQLite's own heap, and the sizes of central's caches and queues, found among
the live objects). Nothing of this is in central: the benchmark runs this file instead of `python -m
speedledger` (`backlog_bench.py --trace DIR [--frames N]`); `python bench/traced_central.py --compare A
B` diffs two snapshots.
"""

from __future__ import annotations

import gc
import itertools
import json
import signal
import sys
import threading
import tracemalloc
from pathlib import Path
from types import FrameType
from typing import Any

from speedledger.central.entrypoints.process_memory import sqlite_heap

#: Frames kept per allocation by default: enough to reach central's code from inside SQLAlchemy or paho.
FRAMES = 16


def _live_sizes() -> dict[str, Any]:
    """Sizes of central's bounded structures, from the live objects (this is a debugging aid)."""
    from speedledger.central.aggregates import AggregateCache
    from speedledger.central.ingest.inbox import Inbox
    from speedledger.central.ingest.mqtt import MqttSession
    from speedledger.central.projections.readmodel import TableProjection

    sizes: dict[str, Any] = {"aggregate caches": [], "inboxes": [], "sessions": [], "compiled": 0}
    for obj in gc.get_objects():
        if isinstance(obj, AggregateCache):
            sizes["aggregate caches"].append(len(obj._states))
        elif isinstance(obj, Inbox):
            sizes["inboxes"].append({"now": len(obj), "peak": obj.peak_messages, "peak bytes": obj.peak_bytes})
        elif isinstance(obj, MqttSession):
            client = obj._client
            sizes["sessions"].append(
                {
                    "unanswered": obj.unanswered(),
                    "held": obj.held(),
                    "peak unanswered": obj.peak_unanswered,
                    "peak held": obj.peak_held,
                    "paho out": len(client._out_messages),
                    "paho in": len(client._in_messages),
                    "paho out packets": len(client._out_packet),
                }
            )
        elif isinstance(obj, TableProjection):
            sizes["compiled"] += len(obj._compiled)
    return sizes


def _dump(directory: Path, number: int) -> None:
    if tracemalloc.is_tracing():
        tracemalloc.take_snapshot().dump(str(directory / f"snapshot-{number}.pickle"))
    traced, peak = tracemalloc.get_traced_memory()
    facts = {
        "allocated blocks": sys.getallocatedblocks(),
        "traced MiB": traced / 2**20,
        "traced peak MiB": peak / 2**20,
        "sqlite heap MiB": [size / 2**20 for size in sqlite_heap()],
        "threads": threading.active_count(),
        **_live_sizes(),
    }
    (directory / f"snapshot-{number}.json").write_text(json.dumps(facts, indent=1))


def run(directory: Path, frames: int, options: list[str]) -> None:
    """Central with `options`; the first SIGUSR1 starts tracing `frames` frames (0: no tracemalloc, the
    dumps give only the JSON facts, at nearly untraced speed and memory)."""
    directory.mkdir(parents=True, exist_ok=True)
    counter = itertools.count(1)
    started: list[bool] = []

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        if not started:
            started.append(True)
            if frames:
                tracemalloc.start(frames)
            return
        # Not in the signal handler itself: uvicorn's loop in the main thread goes on meanwhile.
        threading.Thread(target=_dump, args=(directory, next(counter)), daemon=True).start()

    signal.signal(signal.SIGUSR1, on_signal)
    from speedledger.cli import app

    sys.argv = ["speedledger", *options]
    app()


def compare(before: Path, after: Path, top: int = 25) -> None:
    """The allocation sites (whole tracebacks) that grew most from `before` to `after`."""
    old = tracemalloc.Snapshot.load(str(before))
    new = tracemalloc.Snapshot.load(str(after))
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    stats = new.filter_traces(ignore).compare_to(old.filter_traces(ignore), "traceback")
    total = sum(stat.size_diff for stat in stats)
    print(f"traced: {sum(s.size for s in stats) / 2**20:.1f} MiB, grown by {total / 2**20:+.1f} MiB")
    for stat in stats[:top]:
        print(f"\n{stat.size_diff / 2**20:+.2f} MiB ({stat.count_diff:+d} blocks), now {stat.size / 2**20:.2f} MiB")
        for frame in list(stat.traceback)[::-1][:14]:  # the allocation first
            print(f"    {frame.filename.split('site-packages/')[-1]}:{frame.lineno}")


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        compare(Path(sys.argv[2]), Path(sys.argv[3]), *(int(n) for n in sys.argv[4:5]))
    else:
        run(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:])
