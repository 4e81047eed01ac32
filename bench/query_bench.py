"""Query benchmark (issue 16): `GET /api/v1/infractions` filtered, at 1M infractions, in process and over HTTP.

The read model is filled with generated rows of its real table (`infractions`, created by central's
own projection setup), each the row the infractions projection writes for an `InfractionIssued`
(built from the event class), because replaying 2M events through the projection would take longer
than the measurement. The traffic behind them: a year of detections by `--radars` radars, 70 %
charged to `--owners` owners (one vehicle each), 20 % unidentified (plates registered nowhere), 10 %
paid, contested or cancelled since.

Each filter the API allows, alone and in the combinations an agency uses (plate, owner, radar, a
day of dates, each with a date range, a status or the kind), with a value drawn at random per
request, is measured before and after the query planner's statistics (SQLite; `speedledger central`
refreshes them at start and hourly):
- in process: `list_infractions` on a fresh connection, as the route calls it (p50/p99, goal p99 <= 10 ms);
- over HTTP: a real `speedledger central --no-ingest` (uvicorn) on the same database, one keep-alive
  client at a fixed `--rate`, latency from each request's scheduled time (queueing included) and its
  service time (sent to last byte: a stall in the server shows there, a backlog only in the first),
  the slowest request and the server's CPU per request; baseline: `GET /health` at the same rate,
  interleaved with the filters.

    .venv/bin/python bench/query_bench.py [--infractions 1000000] [--requests 200] [--rate 50]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from load_bench import database
from rebuild_bench import DAY_MS, siv_plate

from speedledger.central.auth import Role, TokenAuthority
from speedledger.central.bootstrap import Settings, bootstrap, wall_clock_ms
from speedledger.central.infractions.events import InfractionIssued
from speedledger.central.infractions.projection import infractions
from speedledger.central.infractions.queries import list_infractions
from speedledger.central.projections.statistics import refresh_statistics
from tests.fixtures.mosquitto import free_port

GOAL_P99_MS = 10.0
SECRET = "q" * 40
#: Rows inserted per statement while filling.
CHUNK = 5000
#: Later statuses of the 10 % of infractions that moved on (the rest stay issued or unidentified).
MOVED_ON = ("paid", "contested", "cancelled")


@dataclass(frozen=True)
class Population:
    """What the generated rows hold, to draw filter values from."""

    radars: list[str]
    owners: list[str]
    plates: list[str]
    start_ms: int
    end_ms: int


def infraction_row(number: int, population: Population, rng: random.Random) -> dict[str, Any]:
    """The infractions row of one generated InfractionIssued, as the projection writes it."""
    detected_at_ms = population.start_ms + rng.randrange(population.end_ms - population.start_ms)
    measured = rng.randrange(9_600, 15_000)
    retained = measured // 100 - 5
    draw = rng.random()
    if draw < 0.2:
        plate, owner_id, status = siv_plate(len(population.plates) + number), None, "unidentified"
    else:
        owner = rng.randrange(len(population.owners))
        plate, owner_id, status = population.plates[owner], population.owners[owner], "issued"
    event = InfractionIssued(
        infraction_id=f"{rng.getrandbits(128):032x}",
        event_id=f"{rng.getrandbits(128):032x}",
        radar_id=rng.choice(population.radars),
        seq=number + 1,
        plate=plate,
        owner_id=owner_id,
        status=status,
        unidentified_reason="plate_unknown" if owner_id is None else None,
        detected_at_ms=detected_at_ms,
        direction="approaching",
        measured_speed_ckmh=measured,
        retained_speed_kmh=retained,
        speed_limit_kmh=90,
        device_speed_limit_kmh=90,
        excess_kmh=retained - 90,
        fine_eur=135,
        points=1,
        fine_schedule="fr-2025",
        image_sha256=f"{rng.getrandbits(256):064x}",
        plate_confidence_pm=rng.randrange(850, 1000),
        issued_at_ms=detected_at_ms + 2000,
    )
    row = {**event.data(), "limit_mismatch": False, "updated_at_ms": event.issued_at_ms}
    if draw > 0.9:
        row["status"] = rng.choice(MOVED_ON)
    return row


def fill(engine: Any, count: int, population: Population) -> float:
    """`count` generated rows in the live infractions table, its indexes built afterwards (as a bulk
    load does: building an index sorts once, instead of a random insert per row); returns the seconds."""
    rng = random.Random(16)
    started = time.perf_counter()
    with engine.begin() as conn:
        for index in infractions.indexes:
            index.drop(conn)
    for first in range(0, count, CHUNK):
        rows = [infraction_row(number, population, rng) for number in range(first, min(count, first + CHUNK))]
        with engine.begin() as conn:
            conn.execute(infractions.insert(), rows)
        print(f"\r  filling: {first + len(rows):,} infractions", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    with engine.begin() as conn:
        for index in infractions.indexes:
            index.create(conn)
    return time.perf_counter() - started


#: A query's parameters, drawn afresh for each request.
Draw = Callable[[random.Random], dict[str, Any]]


def queries(population: Population) -> dict[str, Draw]:
    def day(rng: random.Random) -> dict[str, Any]:
        start = rng.randrange(population.start_ms, population.end_ms - DAY_MS)
        return {"from_ms": start, "to_ms": start + DAY_MS}

    def month(rng: random.Random) -> dict[str, Any]:
        start = rng.randrange(population.start_ms, population.end_ms - 30 * DAY_MS)
        return {"from_ms": start, "to_ms": start + 30 * DAY_MS}

    def plate(rng: random.Random) -> dict[str, Any]:
        return {"plate": rng.choice(population.plates)}

    def owner(rng: random.Random) -> dict[str, Any]:
        return {"owner_id": rng.choice(population.owners)}

    def radar(rng: random.Random) -> dict[str, Any]:
        return {"radar_id": rng.choice(population.radars)}

    return {
        "newest 50 (no filter)": lambda rng: {},
        "plate": plate,
        "owner": owner,
        "radar": radar,
        "one day": day,
        "status contested": lambda rng: {"status": "contested"},
        "plate + month": lambda rng: {**plate(rng), **month(rng)},
        "owner + month": lambda rng: {**owner(rng), **month(rng)},
        "radar + day": lambda rng: {**radar(rng), **day(rng)},
        "radar + status contested": lambda rng: {**radar(rng), "status": "contested"},
        "owner + radar": lambda rng: {**owner(rng), **radar(rng)},
        "owner + status paid": lambda rng: {**owner(rng), "status": "paid"},
        "owner + kind spot": lambda rng: {**owner(rng), "kind": "spot"},
        "day + status paid": lambda rng: {**day(rng), "status": "paid"},
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class Timings:
    """Milliseconds per call: elapsed, and the calling thread's CPU time (what the box's load does not change)."""

    elapsed: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def in_process(engine: Any, draws: dict[str, Draw], requests: int) -> dict[str, Timings]:
    """`list_infractions` calls on a fresh connection each (as the route does), the queries interleaved."""
    rng = random.Random(7)
    samples = {name: Timings() for name in draws}
    for draw in draws.values():  # warm-up: statement caches, pooled connections
        with engine.connect() as conn:
            list_infractions(conn, **draw(rng))
    for _ in range(requests):
        for name, draw in draws.items():
            params = draw(rng)
            started, cpu = time.perf_counter(), time.thread_time()
            with engine.connect() as conn:
                list_infractions(conn, **params)
            samples[name].elapsed.append((time.perf_counter() - started) * 1000)
            samples[name].cpu.append((time.thread_time() - cpu) * 1000)
    return samples


@dataclass
class HttpRun:
    """Milliseconds per request, by path: from its scheduled time to its last byte (queueing behind
    earlier requests included), and its service time (sent to last byte); the slowest service."""

    from_schedule: dict[str, list[float]]
    service: dict[str, list[float]]
    #: (seconds into the run, milliseconds, path name) of the request the server took longest over.
    slowest: tuple[float, float, str]
    #: The server's CPU time (user + system, from /proc) per request over the run.
    server_cpu_ms: float


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def over_http(address: str, server_pid: int, draws: dict[str, Draw], requests: int, rate: float) -> HttpRun:
    """`requests` per path at `rate` requests/s in all, `GET /health` interleaved with the filters as the baseline."""
    host, _, port = address.rpartition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    token = TokenAuthority(SECRET).mint(Role.AGENCY, "query-bench")
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(7)

    def listing(draw: Draw) -> Callable[[], str]:
        return lambda: f"/api/v1/infractions?{urllib.parse.urlencode(draw(rng))}"

    paths: dict[str, Callable[[], str]] = {"GET /health (baseline)": lambda: "/health"}
    paths.update((name, listing(draw)) for name, draw in draws.items())
    run = HttpRun({name: [] for name in paths}, {name: [] for name in paths}, (0.0, 0.0, ""), 0.0)
    for path in paths.values():  # warm-up, as in process
        connection.request("GET", path(), headers=headers)
        connection.getresponse().read()
    started, sent, server_cpu = time.perf_counter(), 0, process_cpu_s(server_pid)
    for _ in range(requests):
        for name, path in paths.items():
            scheduled = started + sent / rate
            sent += 1
            if (delay := scheduled - time.perf_counter()) > 0:
                time.sleep(delay)
            sending = time.perf_counter()
            connection.request("GET", path(), headers=headers)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
            done = time.perf_counter()
            run.from_schedule[name].append((done - scheduled) * 1000)
            run.service[name].append((done - sending) * 1000)
            if (done - sending) * 1000 > run.slowest[1]:
                run.slowest = (sending - started, (done - sending) * 1000, name)
    run.server_cpu_ms = (process_cpu_s(server_pid) - server_cpu) / sent * 1000
    connection.close()
    return run


def serve(db_url: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`speedledger central --no-ingest` on `db_url`, once /health answers."""
    host, port = "127.0.0.1", free_port()
    address = f"{host}:{port}"
    env = {**os.environ, "SPEEDLEDGER_DB": db_url, "SPEEDLEDGER_HTTP": address, "SPEEDLEDGER_SECRET": SECRET}
    log = open(workdir / "central.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen([sys.executable, "-m", "speedledger", "central", "--no-ingest"], env=env, stdout=log,
                               stderr=log)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection(host, int(port), timeout=5)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return process, address
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"speedledger central did not answer on {address}: see {workdir / 'central.log'}")


def report_in_process(title: str, samples: dict[str, Timings]) -> None:
    print(title)
    for name, timings in samples.items():
        p50, p99 = statistics.median(timings.elapsed), percentile(timings.elapsed, 0.99)
        print(f"  {name:<26} p50 {p50:8.2f} ms  p99 {p99:8.2f} ms  (CPU p50 {statistics.median(timings.cpu):6.2f} ms, "
              f"p99 {percentile(timings.cpu, 0.99):6.2f} ms)  goal p99 <= {GOAL_P99_MS:.0f} ms: "
              f"{'met' if p99 <= GOAL_P99_MS else 'NOT met'}")  # fmt: skip


def report_http(run: HttpRun, rate: float) -> None:
    print(f"over HTTP at {rate:.0f} requests/s (speedledger central, uvicorn): from the scheduled time (queueing "
          "behind earlier requests included), and the service time (sent to last byte)")  # fmt: skip
    baseline = statistics.median(run.from_schedule["GET /health (baseline)"])
    for name, values in run.from_schedule.items():
        p50, p99 = statistics.median(values), percentile(values, 0.99)
        service = run.service[name]
        print(f"  {name:<26} p50 {p50:8.2f} ms  p99 {p99:8.2f} ms  x{p50 / baseline:5.1f} of the baseline's p50; "
              f"service p50 {statistics.median(service):6.2f} ms, p99 {percentile(service, 0.99):7.2f} ms")  # fmt: skip
    at_s, slowest_ms, name = run.slowest
    print(f"  slowest service: {slowest_ms:.0f} ms ({name}, {at_s:.1f} s into the run); server CPU "
          f"{run.server_cpu_ms:.2f} ms per request")  # fmt: skip


def bench_store(store: str, db_url: str, workdir: Path, args: argparse.Namespace) -> None:
    central = bootstrap(Settings(db_url=db_url, secret=SECRET), read_your_writes=False)
    end_ms = wall_clock_ms()
    population = Population(
        radars=[f"ROAD-{number:04d}" for number in range(args.radars)],
        owners=[f"{random.Random(number).getrandbits(128):032x}" for number in range(args.owners)],
        plates=[siv_plate(number) for number in range(args.owners)],
        start_ms=end_ms - 365 * DAY_MS,
        end_ms=end_ms,
    )
    try:
        filled_s = fill(central.engine, args.infractions, population)
        draws = queries(population)
        print(f"\n== {store}: {args.infractions:,} infractions (generated rows, filled in {filled_s:.0f} s), "
              f"{args.radars} radars, {args.owners:,} owners; {args.requests} requests per query")  # fmt: skip
        report_in_process(f"in process, before the planner statistics ({args.before_requests} requests per query):",
                          in_process(central.engine, draws, args.before_requests))  # fmt: skip
        refresh_statistics(central.store)  # what `speedledger central` does at start
        report_in_process("in process, with them (list_infractions on a fresh connection):",
                          in_process(central.engine, draws, args.requests))  # fmt: skip
    finally:
        central.close()
    process, address = serve(db_url, workdir)
    try:
        http_run = over_http(address, process.pid, draws, args.requests, args.rate)
    finally:
        process.terminate()
        process.wait(20)
    report_http(http_run, args.rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--infractions", type=int, default=1_000_000)
    parser.add_argument("--radars", type=int, default=1000)
    parser.add_argument("--owners", type=int, default=200_000, help="owners, one vehicle each")
    parser.add_argument("--requests", type=int, default=200, help="requests per query, in process and over HTTP")
    parser.add_argument("--before-requests", type=int, default=5,
                        help="requests per query before the planner statistics (some take seconds)")  # fmt: skip
    parser.add_argument("--rate", type=float, default=50.0, help="HTTP requests per second, all queries together")
    parser.add_argument("--stores", default="sqlite", help="comma-separated: sqlite, postgresql")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (a shared box: compare with the baseline)")
    for store in args.stores.split(","):
        with (
            tempfile.TemporaryDirectory(prefix="query-bench-") as workdir,
            database(store, Path(workdir), "query") as db_url,
        ):
            bench_store(store, db_url, Path(workdir), args)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
