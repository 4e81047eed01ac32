"""Rebuild benchmark (issue 16): `speedledger central rebuild` of a road's event log, against a raw
sequential read of the same events table in the same run.

The log is what a road produces, written through the real paths:
- registrations through the command bus: `--radars` radars (each with a periodic verification in
  force), `--owners` owners each with one vehicle;
- signed violations of every radar (`SigningRadar`, Ed25519; signed in a second process while the
  first appends), appended with the ingest's own
  `violation_recorded` in batches (`append_batch`, as the ingest's batch writer does), over a year of
  detection times: 70 % by registered vehicles, 20 % by unknown plates (unidentified infractions),
  10 % under the limit (dismissed);
- the decisions (InfractionIssued / ViolationDismissed) appended by the real infraction process
  manager after each batch, so they interleave with the violations as on the road.

Then `speedledger central rebuild` runs in its own process on that database: every projection from
one read of the log into shadow tables, swapped in at the end; it prints each projection's time and
the bench reads the process's CPU time. The baseline, in the same run (before and after the rebuild):
a raw sequential read of the events table (`SELECT ... ORDER BY position`, rows fetched, nothing
decoded), and the store's own `read_all` pages (JSON decoded).

`--before CHECKOUT` first rebuilds the same log with another checkout's code (its own `.venv`, e.g. a
worktree of an older commit), for a before/after from one run: a rebuild changes read models only.
`--log FILE` (SQLite) keeps the filled log in FILE, and a later run with the same FILE rebuilds it
without filling again (a million events take minutes to fill, seconds to copy).

    .venv/bin/python bench/rebuild_bench.py [--events 1000000] [--stores sqlite,postgresql] [--before DIR] [--log FILE]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # reuse the test suite's signing radar and PostgreSQL launcher

from load_bench import database  # noqa: E402
from sqlalchemy import text  # noqa: E402

from speedledger.central.bootstrap import Central, Settings, bootstrap, wall_clock_ms  # noqa: E402
from speedledger.central.eventstore import NO_STREAM, AppendRequest, SqlEventStore  # noqa: E402
from speedledger.central.infractions.events import ViolationRecorded  # noqa: E402
from speedledger.central.infractions.process_manager import InfractionProcessManager  # noqa: E402
from speedledger.central.infractions.violations import violation_recorded  # noqa: E402
from speedledger.central.projections.runner import ProjectionRunner  # noqa: E402
from speedledger.central.registration.commands import RegisterOwner, RegisterVehicle  # noqa: E402
from speedledger.shared import fast_canonical, keys  # noqa: E402
from speedledger.shared.plates import SIV_LETTERS  # noqa: E402
from tests.ingest.harness import SigningRadar  # noqa: E402

GOAL_EVENTS_PER_S = 50_000
DAY_MS = 86_400_000
#: Radars registered with this limit; violations measure 96-150 km/h over it, dismissed ones 85-90.
LIMIT_KMH = 90
#: Violations appended (and then decided) per batch.
BATCH = 1000
#: Batches of signed violations the signing process may hold ready ahead of the appends.
SIGNED_AHEAD = 8


class SettableClock:
    """Wall time, or a fixed instant while registering (so radars and vehicles predate the year of traffic)."""

    def __init__(self) -> None:
        self.fixed_ms: int | None = None

    def __call__(self) -> int:
        return wall_clock_ms() if self.fixed_ms is None else self.fixed_ms


def siv_plate(number: int) -> str:
    """The `number`-th plate of the French SIV format (AA123AA, normalised): distinct for distinct numbers."""
    letters = SIV_LETTERS
    first, rest = divmod(number, 1000)
    codes = []
    for _ in range(4):
        first, code = divmod(first, len(letters))
        codes.append(letters[code])
    return f"{codes[0]}{codes[1]}{rest:03d}{codes[2]}{codes[3]}"


class FastSigningRadar(SigningRadar):
    """The test suite's signing radar, signing over `fast_canonical`'s bytes (identical to `canonical`'s,
    four times cheaper): the bench signs a million violations, the tests keep the reference encoder."""

    def __init__(self, radar_id: str) -> None:
        super().__init__(radar_id)
        self._key_id = keys.key_id(self.private_key.public_key().public_bytes_raw())

    @property
    def key_id(self) -> str:
        return self._key_id

    def sign(self, unsigned: dict[str, Any]) -> dict[str, Any]:
        signature = self.private_key.sign(fast_canonical.signing_bytes(unsigned))
        return {**unsigned, "sig": keys.b64encode(signature)}


@dataclass
class Road:
    """Violations of many radars over a year, in detection order."""

    radars: list[FastSigningRadar]
    plates: list[str]
    start_ms: int
    step_ms: float
    rng: random.Random
    made: int = 0

    def violations(self, count: int) -> list[dict[str, Any]]:
        messages = []
        for _ in range(count):
            draw = self.rng.random()
            if draw < 0.7:
                plate, measured = self.rng.choice(self.plates), self.rng.randrange(9_600, 15_000)
            elif draw < 0.9:
                plate, measured = (
                    siv_plate(len(self.plates) + self.rng.randrange(10**6)),
                    self.rng.randrange(9_600, 15_000),
                )
            else:
                plate, measured = self.rng.choice(self.plates), self.rng.randrange(8_500, 9_000)
            radar = self.rng.choice(self.radars)
            detected_at_ms = self.start_ms + int(self.made * self.step_ms)
            messages.append(
                radar.violation(
                    plate=plate,
                    measured_speed_ckmh=measured,
                    detected_at_ms=detected_at_ms,
                    speed_limit_kmh=LIMIT_KMH,
                    image_sha256=f"{self.rng.getrandbits(256):064x}",
                    plate_confidence_pm=self.rng.randrange(850, 1000),
                )
            )
            self.made += 1
        return messages

    def sign_ahead(self, total: int, ready: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
        """In the signing process: `total` violations in batches of `BATCH` onto `ready`, then None."""
        while self.made < total:
            ready.put(self.violations(min(BATCH, total - self.made)))
        ready.put(None)


@dataclass(frozen=True)
class FilledLog:
    events: int
    registrations: int
    violations: int
    #: The fill's time; None for a log kept by an earlier run (`--log`).
    seconds: float | None


def kept_log(store: SqlEventStore) -> FilledLog:
    """What a log filled by an earlier run holds (its registrations are the events before its first violation)."""
    with store.engine.connect() as conn:
        first, count = conn.execute(
            text("SELECT min(position), count(*) FROM events WHERE type = :type"), {"type": ViolationRecorded.type_name}
        ).one()
    return FilledLog(store.last_position(), (first or 1) - 1, count, None)


def fill(central: Central, clock: SettableClock, events: int, radar_count: int, owners: int) -> FilledLog:
    """Registrations, then violations and their decisions until the log holds `events` events."""
    started = time.perf_counter()
    now = wall_clock_ms()
    clock.fixed_ms = now - 400 * DAY_MS
    radars = [FastSigningRadar(f"ROAD-{number:04d}") for number in range(radar_count)]
    for radar in radars:
        central.bus.handle(radar.registration(f"road radar {radar.radar_id}", speed_limit_kmh=LIMIT_KMH))
    plates = [siv_plate(number) for number in range(owners)]
    for number, plate in enumerate(plates):
        owner_id = central.bus.handle(
            RegisterOwner(name=f"Owner {number}", birth_date="1980-01-01", email=f"owner{number}@example.org")
        )
        central.bus.handle(
            RegisterVehicle(plate=plate, brand="Renault", model="Clio", fiscal_power=5, owner_id=owner_id)
        )
    clock.fixed_ms = None
    store = central.store
    registrations = store.last_position()
    violations = max(1, (events - registrations) // 2)  # each violation and its decision
    year = 365 * DAY_MS
    road = Road(radars, plates, now - year, year / violations, random.Random(16))
    manager = next(p for p in central.projections if isinstance(p, InfractionProcessManager))
    # One round of the process manager per batch: the previous batch's decisions and this batch's violations.
    decider = ProjectionRunner(store, [manager], batch_size=3 * BATCH)
    # The violations are signed in a forked process (the radars' keys are inherited, not pickled) while
    # this one appends and decides: the fill uses both cores.
    context = multiprocessing.get_context("fork")
    ready = context.Queue(SIGNED_AHEAD)
    signer = context.Process(target=road.sign_ahead, args=(violations, ready), daemon=True)
    signer.start()
    made = 0
    try:
        while (messages := ready.get()) is not None:
            requests = []
            for message in messages:
                stream_id, event = violation_recorded(message, int(message["detected_at_ms"]) + 800, {"via": "mqtt"})
                requests.append(AppendRequest(stream_id, [event], NO_STREAM))
            store.append_batch(requests)
            decider.catch_up()
            made += len(messages)
            print(f"\r  filling: {store.last_position():,} events", end="", file=sys.stderr, flush=True)
    finally:
        signer.kill()
        signer.join()
        decider.close()
        print(file=sys.stderr)
    return FilledLog(store.last_position(), registrations, made, time.perf_counter() - started)


def raw_read(store: SqlEventStore) -> tuple[int, float]:
    """Every row of the events table in position order, fetched and not decoded: (rows, seconds)."""
    started = time.perf_counter()
    rows = 0
    with store.engine.connect() as conn:
        result = conn.exec_driver_sql(
            "SELECT position, stream_id, version, event_id, type, data, metadata, recorded_at_ms "
            "FROM events ORDER BY position"
        )
        while chunk := result.fetchmany(BATCH):
            rows += len(chunk)
    return rows, time.perf_counter() - started


def decoded_read(store: SqlEventStore) -> tuple[int, float]:
    """The log through the store's `read_all` (pages of 500, JSON decoded): (events, seconds)."""
    started = time.perf_counter()
    after, count = 0, 0
    while page := store.read_all(after, 500):
        after, count = page[-1].position, count + len(page)
    return count, time.perf_counter() - started


#: `central rebuild`'s lines: per projection (this release, or one that rebuilt them one by one), then the read.
APPLIED = re.compile(
    r"^(?P<name>\S+): rebuilt up to position \d+(, (?P<applying>[\d.]+) s applying| in (?P<alone>[\d.]+) s)"
)
READ = re.compile(r"^one read of (?P<events>\d+) events \((?P<reading>[\d.]+) s reading and decoding\)")


@dataclass(frozen=True)
class Rebuild:
    """One `speedledger central rebuild` of every projection, as its output and the OS tell it."""

    #: Per projection: the seconds it spent applying its events (or replaying the log alone, in a
    #: release that rebuilt projections one by one).
    seconds: dict[str, float]
    #: Seconds reading and decoding the log once for all (None: a release that read it per projection).
    reading_s: float | None
    #: The process: wall time (start included) and CPU time.
    wall_s: float
    cpu_s: float


def rebuild_cli(db_url: str, checkout: Path = ROOT) -> Rebuild:
    """`speedledger central rebuild` (every projection) in its own process, with `checkout`'s code."""
    python = checkout / ".venv" / "bin" / "python"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [str(python), "-m", "speedledger", "central", "rebuild"],
        cwd=checkout,
        env={**os.environ, "SPEEDLEDGER_DB": db_url},
        capture_output=True,
        text=True,
        check=False,
    )
    wall_s = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(f"speedledger central rebuild ({checkout}) failed:\n{result.stderr}")
    seconds: dict[str, float] = {}
    reading_s = None
    for line in result.stdout.splitlines():
        if match := APPLIED.match(line):
            seconds[match["name"]] = float(match["applying"] or match["alone"])
        elif match := READ.match(line):
            reading_s = float(match["reading"])
    cpu_s = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Rebuild(seconds, reading_s, wall_s, cpu_s)


def report_rebuild(label: str, rebuild: Rebuild, events: int, raw_s: float) -> None:
    rate, per_cpu = events / rebuild.wall_s, events / rebuild.cpu_s
    print(f"{label}: {rebuild.wall_s:.1f} s ({rebuild.cpu_s:.1f} s of CPU), {rate:,.0f} events/s of log, "
          f"x{raw_s / rebuild.wall_s:.3f} of raw; {per_cpu:,.0f} events per CPU second")  # fmt: skip
    if rebuild.reading_s is not None:
        print(f"  one read of the log, JSON decoded   {rebuild.reading_s:7.1f} s")
    what = "applying its events" if rebuild.reading_s is not None else "replaying the whole log alone"
    for name, seconds in rebuild.seconds.items():
        print(f"  {name:<34} {seconds:7.1f} s  {what}")


def bench_store(store: str, db_url: str, args: argparse.Namespace) -> None:
    clock = SettableClock()
    central = bootstrap(Settings(db_url=db_url, secret="r" * 40), clock=clock, read_your_writes=False)
    before: Rebuild | None = None
    try:
        assert isinstance(central.store, SqlEventStore)
        log = kept_log(central.store)
        if not log.violations:
            log = fill(central, clock, args.events, args.radars, args.owners)
        raw_before = raw_read(central.store)
        decoded = decoded_read(central.store)
        if args.before is not None:
            before = rebuild_cli(db_url, args.before)
        after = rebuild_cli(db_url)
        raw_after = raw_read(central.store)
    finally:
        central.close()
    events = log.events
    raw_s = min(raw_before[1], raw_after[1])  # the warmer page cache
    origin = f"filled in {log.seconds:.0f} s" if log.seconds is not None else f"kept from an earlier run ({db_url})"
    print(f"\n== {store}: {events:,} events ({log.registrations:,} of registrations, {log.violations:,} violations "
          f"and their decisions), {origin}")  # fmt: skip
    print(f"baseline, raw sequential read of the events table: {events / raw_s:,.0f} events/s "
          f"({raw_before[1]:.2f} s before the rebuild, {raw_after[1]:.2f} s after)")  # fmt: skip
    print(f"read_all pages of 500, JSON decoded: {events / decoded[1]:,.0f} events/s, x{raw_s / decoded[1]:.2f} of raw")
    print("speedledger central rebuild, every projection (the process's wall time, start included):")
    if before is not None:
        report_rebuild(f"before ({args.before})", before, events, raw_s)
    report_rebuild("this checkout", after, events, raw_s)
    rate = events / after.wall_s
    verdict = "goal met" if rate >= GOAL_EVENTS_PER_S else "goal NOT met"
    speedup = f"; x{before.wall_s / after.wall_s:.1f} faster than before" if before is not None else ""
    print(f"goal >= {GOAL_EVENTS_PER_S:,} events/s: {verdict} ({rate:,.0f}/s){speedup}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the log (approximately)")
    parser.add_argument("--stores", default="sqlite", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--radars", type=int, help="registered radars (default: one per 1000 events, at least 10)")
    parser.add_argument("--owners", type=int, help="owners with one vehicle each (default: one per 200 events)")
    parser.add_argument("--before", type=Path, help="first rebuild the same log with this checkout's code")
    parser.add_argument(
        "--log",
        type=Path,
        help="SQLite only: the database file of the log, filled and kept when missing, rebuilt as it is when present",
    )
    args = parser.parse_args()
    if args.log is not None and args.stores != "sqlite":
        parser.error("--log keeps a SQLite file: use it with --stores sqlite")
    if args.log is not None and not args.log.resolve().parent.is_dir():
        parser.error(f"--log {args.log}: no directory {args.log.resolve().parent}")
    args.radars = args.radars or max(10, args.events // 1000)
    args.owners = args.owners or max(10, args.events // 200)
    print(f"rebuild of {args.events:,} events, {args.radars} radars, {args.owners} owners; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (a shared box: compare the ratios)")  # fmt: skip
    if args.log is not None:
        bench_store("sqlite", f"sqlite:///{args.log.resolve()}", args)
        return
    for store in args.stores.split(","):
        with (
            tempfile.TemporaryDirectory(prefix="rebuild-bench-") as workdir,
            database(store, Path(workdir), "rebuild") as db_url,
        ):
            bench_store(store, db_url, args)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
