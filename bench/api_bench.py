"""REST API benchmark: what HTTP, auth and JSON add on top of the read models, measured in one run.

One SQLite-backed central with N infractions, served by uvicorn (ApiServer, as `speedledger central`):
- list: `GET /api/v1/infractions?limit=50` (token checked, query, JSON) against the baseline of the
  same `list_infractions(conn, limit=50)` call made directly in process;
- page walk: every page of the list by cursor, against the same walk in process;
- stream: an event appended in the API's process until an SSE client holds it, against the baseline
  `store.read_all` of that event right after the append.

    .venv/bin/python bench/api_bench.py [--infractions 2000] [--requests 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # reuse the API tests' signed-violation factory and server helper

from speedledger.central.auth import Role, TokenAuthority  # noqa: E402
from speedledger.central.bootstrap import Settings, bootstrap  # noqa: E402
from speedledger.central.entrypoints.api import create_app  # noqa: E402
from speedledger.central.eventstore import NewEvent  # noqa: E402
from speedledger.central.infractions.commands import RecordViolation  # noqa: E402
from speedledger.central.infractions.queries import list_infractions  # noqa: E402
from speedledger.central.radars.commands import RegisterRadar  # noqa: E402
from tests.api.factories import RadarKey, violation  # noqa: E402
from tests.api.server import running  # noqa: E402
from tests.fixtures.metrology import VERIFIED  # noqa: E402

SECRET = "bench-secret-" + "0" * 32


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def summary(name: str, samples: list[float], baseline: list[float]) -> None:
    p50, base50 = statistics.median(samples), statistics.median(baseline)
    p99 = statistics.quantiles(samples, n=100)[98] if len(samples) >= 100 else max(samples)
    print(
        f"{name:<12} p50 {p50 * 1000:8.2f} ms  p99 {p99 * 1000:8.2f} ms  "
        f"baseline p50 {base50 * 1000:8.2f} ms  ratio {p50 / base50:6.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--infractions", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(db_url=f"sqlite:///{directory}/bench.db", secret=SECRET)
        central = bootstrap(settings, read_your_writes=False)
        key = RadarKey()
        central.bus.handle(
            RegisterRadar(
                radar_id="B1",
                name="bench",
                latitude=45.0,
                longitude=4.0,
                speed_limit_kmh=90,
                public_key=key.public_b64,
                metrology=(VERIFIED,),
            )
        )
        now_ms = int(time.time() * 1000) - args.infractions
        for seq in range(1, args.infractions + 1):
            central.bus.handle(RecordViolation(message=violation(key, "B1", seq, detected_at_ms=now_ms + seq)))
        central.runner.catch_up()
        print(f"{args.infractions} infractions on SQLite; {args.requests} requests per measurement")

        app = create_app(central)
        headers = {"Authorization": f"Bearer {TokenAuthority(SECRET).mint(Role.AGENCY, 'bench')}"}
        with running(app) as (url, _server), httpx.Client(base_url=url, headers=headers, timeout=10) as client:

            def direct_list() -> object:
                with central.engine.connect() as conn:
                    return list_infractions(conn, limit=50)

            def http_list() -> object:
                response = client.get("/api/v1/infractions", params={"limit": 50})
                response.raise_for_status()
                return response.json()

            def direct_walk() -> None:
                cursor = None
                with central.engine.connect() as conn:
                    while True:
                        cursor = list_infractions(conn, limit=500, cursor=cursor).next_cursor
                        if cursor is None:
                            return

            def http_walk() -> None:
                params: dict[str, object] = {"limit": 500}
                while True:
                    page = client.get("/api/v1/infractions", params=params).json()
                    if page["next_cursor"] is None:
                        return
                    params["cursor"] = page["next_cursor"]

            http_list()  # warm up
            summary("list 50", timed(http_list, args.requests), timed(direct_list, args.requests))
            walks = max(3, args.requests // 30)
            summary("walk all", timed(http_walk, walks), timed(direct_walk, walks))
            stream, baseline = stream_latency(central, client, min(args.requests, 100))
            summary("sse event", stream, baseline)
        central.close()


def stream_latency(central: object, client: httpx.Client, count: int) -> tuple[list[float], list[float]]:
    store = central.store  # type: ignore[attr-defined]
    head = store.last_position()
    received: dict[int, float] = {}
    ready = threading.Event()

    def listen() -> None:
        with client.stream("GET", "/api/v1/events/stream", params={"after": head}) as response:
            ready.set()
            for line in response.iter_lines():
                if line.startswith("id: "):
                    received[int(line[4:])] = time.perf_counter()
                    if len(received) == count:
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    ready.wait(10)
    time.sleep(0.3)
    stream, baseline = [], []
    for index in range(count):
        started = time.perf_counter()
        [recorded] = store.append(f"bench-{index}", [NewEvent(type="BenchPing", data={"n": index})], 0)
        appended = time.perf_counter()
        store.read_all(recorded.position - 1, 1)
        baseline.append(time.perf_counter() - appended + (appended - started))
        deadline = time.monotonic() + 5
        while recorded.position not in received and time.monotonic() < deadline:
            time.sleep(0.0005)
        stream.append(received[recorded.position] - started)
    listener.join(5)
    return stream, baseline


if __name__ == "__main__":
    uvicorn.config.LOGGING_CONFIG["loggers"]["uvicorn.error"]["level"] = "WARNING"
    main()
