"""The catch-up runner and rebuild, on both stores: checkpoints commit with the rows, crashes neither
double-apply nor skip, failures back off, rebuild swaps identical tables in while reads go on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import MetaData, inspect, select

from speedledger.central.eventstore import ANY_VERSION, NewEvent, SqlEventStore, create_event_store
from speedledger.central.eventstore.port import RecordedEvent, Transaction
from speedledger.central.eventstore.schema import checkpoints
from speedledger.central.projections.runner import ProjectionFailed, ProjectionRunner
from tests.store.tally import APPLIED, TOTALS, Tally, applied_positions, totals

REPO = Path(__file__).resolve().parents[2]


def fill(store: SqlEventStore, count: int, streams: int = 5, type_: str = "Counted") -> dict[str, int]:
    """Append `count` events round-robin over `streams` streams; returns the expected totals."""
    expected: dict[str, int] = {}
    for n in range(count):
        stream = f"s{n % streams}"
        store.append(stream, [NewEvent(type_, {"n": n})], ANY_VERSION)
        expected[stream] = expected.get(stream, 0) + 1
    return expected


def checkpoint(store: SqlEventStore, name: str = "tally") -> int:
    with store.engine.connect() as conn:
        position: int = conn.execute(select(checkpoints.c.position).where(checkpoints.c.name == name)).scalar_one()
        return position


def projected(store: SqlEventStore) -> tuple[dict[str, int], list[int]]:
    with store.engine.connect() as conn:
        return totals(conn), applied_positions(conn)


def all_positions(store: SqlEventStore) -> list[int]:
    return [e.position for e in store.read_all(limit=1_000_000)]


def test_catch_up_applies_everything_once_and_checkpoints(event_store: SqlEventStore) -> None:
    expected = fill(event_store, 23)
    runner = ProjectionRunner(event_store, [Tally()], batch_size=5)

    assert runner.catch_up() == 23
    assert runner.catch_up() == 0
    assert projected(event_store) == (expected, all_positions(event_store))
    assert checkpoint(event_store) == event_store.last_position()
    [status] = runner.status()
    assert (status.lag, status.error) == (0, None)


def test_an_exception_mid_batch_rolls_back_rows_and_checkpoint(event_store: SqlEventStore) -> None:
    fill(event_store, 4)
    event_store.append("bad", [NewEvent("Poison", {})], ANY_VERSION)
    fill(event_store, 3)
    head = event_store.last_position()

    with pytest.raises(ProjectionFailed):
        ProjectionRunner(event_store, [Tally(poison="Poison")], batch_size=100).catch_up()
    # The whole batch, rows and checkpoint alike, was rolled back.
    assert projected(event_store) == ({}, [])
    assert checkpoint(event_store) == 0

    # Fixed and restarted: everything applied exactly once.
    ProjectionRunner(event_store, [Tally()], batch_size=3).catch_up()
    applied_totals, positions = projected(event_store)
    assert positions == all_positions(event_store) and checkpoint(event_store) == head
    assert sum(applied_totals.values()) == 8 and applied_totals["bad"] == 1


CHILD = """
import sys
from speedledger.central.eventstore import create_event_store
from speedledger.central.projections.runner import ProjectionRunner
from tests.store.tally import Tally
store = create_event_store(sys.argv[1])
ProjectionRunner(store, [Tally(delay_s=0.01)], batch_size=40).catch_up()
"""


def test_a_runner_killed_mid_batch_resumes_without_double_applying(event_store: SqlEventStore) -> None:
    url = event_store.engine.url.render_as_string(hide_password=False)
    expected = fill(event_store, 200)
    ProjectionRunner(event_store, [Tally()]).setup()  # tables exist before the child races us

    child = subprocess.Popen([sys.executable, "-c", CHILD, url], cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while checkpoint(event_store) == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.15)  # into the next batch (each takes ~0.4 s)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    killed_at = checkpoint(event_store)
    assert 0 < killed_at < event_store.last_position(), "the child must die mid-way"
    _, positions = projected(event_store)
    assert positions == [p for p in all_positions(event_store) if p <= killed_at]  # nothing past the checkpoint

    ProjectionRunner(event_store, [Tally()]).catch_up()
    assert projected(event_store) == (expected, all_positions(event_store))


def test_a_failing_projection_backs_off_while_the_others_carry_on(event_store: SqlEventStore) -> None:
    calls = 0

    class Counting(Tally):
        def apply(self, tx, event):  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += 1
            super().apply(tx, event)

    class Healthy(Tally):
        name = "healthy"

    metadata = MetaData()
    healthy = Healthy(
        APPLIED.to_metadata(metadata, name="healthy_applied"), TOTALS.to_metadata(metadata, name="healthy_totals")
    )
    for index in [*healthy.applied.indexes, *healthy.totals.indexes]:
        index.name = f"healthy_{index.name}"
    runner = ProjectionRunner(
        event_store, [Counting(poison="Poison"), healthy], poll_interval=0.05, min_backoff=0.2, max_backoff=0.4
    )
    event_store.append("bad", [NewEvent("Poison", {})], ANY_VERSION)
    runner.start()
    try:
        time.sleep(1.0)
        statuses = {s.name: s for s in runner.status()}
        assert statuses["tally"].error is not None and "poisoned" in statuses["tally"].error
        assert 2 <= statuses["tally"].failures <= 6  # retried with backoff, not spinning
        assert statuses["tally"].failures <= calls <= statuses["tally"].failures + 1
        assert statuses["healthy"].lag == 0 and statuses["healthy"].error is None
    finally:
        runner.close()


def test_the_background_runner_wakes_on_append(event_store: SqlEventStore) -> None:
    runner = ProjectionRunner(event_store, [Tally()], poll_interval=30)
    runner.start()
    try:
        time.sleep(0.1)  # the runner is now asleep for up to 30 s
        started = time.monotonic()
        [event] = event_store.append("s", [NewEvent("Counted", {})], ANY_VERSION)
        assert runner.wait_for(event.position, timeout=5)
        assert time.monotonic() - started < 2
    finally:
        runner.close()


def test_the_background_runner_polls_for_appends_from_other_processes(event_store: SqlEventStore) -> None:
    runner = ProjectionRunner(event_store, [Tally()], poll_interval=0.1)
    other = create_event_store(event_store.engine.url.render_as_string(hide_password=False))
    runner.start()
    try:
        [event] = other.append("s", [NewEvent("Counted", {})], ANY_VERSION)
        assert runner.wait_for(event.position, timeout=5)
    finally:
        runner.close()
        other.close()


def test_setup_builds_an_index_added_to_an_existing_table(event_store: SqlEventStore) -> None:
    fill(event_store, 7)
    runner = ProjectionRunner(event_store, [Tally()])
    runner.catch_up()
    (index,) = APPLIED.indexes
    with event_store.engine.begin() as conn:  # a database from the version before the index
        index.drop(conn)
    runner.setup()
    with event_store.engine.connect() as conn:
        assert index.name in {i["name"] for i in inspect(conn).get_indexes(APPLIED.name)}
    runner.setup()  # and only once


def test_rebuild_yields_identical_rows_and_canonical_index_names(event_store: SqlEventStore) -> None:
    fill(event_store, 57)
    runner = ProjectionRunner(event_store, [Tally()], batch_size=10)
    runner.catch_up()
    before = projected(event_store)
    with event_store.engine.connect() as conn:
        indexes_before = {
            t: sorted(i["name"] or "" for i in inspect(conn).get_indexes(t)) for t in ("tally_applied", "tally_totals")
        }

    for _ in range(3):  # repeated rebuilds must not collide on index or constraint names
        assert runner.rebuild("tally").position == event_store.last_position()

    assert projected(event_store) == before
    with event_store.engine.connect() as conn:
        inspector = inspect(conn)
        assert {t: sorted(i["name"] or "" for i in inspector.get_indexes(t)) for t in indexes_before} == indexes_before
        assert sorted(inspector.get_table_names()) == [
            "events",
            "projection_checkpoints",
            "tally_applied",
            "tally_totals",
        ]
    fill(event_store, 5)
    runner.catch_up()  # the live projection carries on against the swapped-in tables
    assert projected(event_store)[1] == all_positions(event_store)


def test_reads_and_appends_go_on_during_a_rebuild(event_store: SqlEventStore) -> None:
    fill(event_store, 120)
    runner = ProjectionRunner(event_store, [Tally()], batch_size=20)
    runner.catch_up()
    slow = ProjectionRunner(event_store, [Tally(delay_s=0.002)], batch_size=20, rebuild_batch_size=20)
    reads: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read_and_append() -> None:
        n = 0
        while not stop.is_set():
            try:
                with event_store.engine.connect() as conn:
                    reads.append(sum(totals(conn).values()))
                if n % 10 == 0:
                    event_store.append("during", [NewEvent("Counted", {})], ANY_VERSION)
                    runner.catch_up()  # the live projection keeps up during the rebuild
                n += 1
            except BaseException as error:
                errors.append(error)
                return
            time.sleep(0.005)

    worker = threading.Thread(target=read_and_append)
    worker.start()
    try:
        slow.rebuild("tally")
    finally:
        stop.set()
        worker.join(30)

    assert errors == []
    assert len(reads) > 10 and min(reads) >= 120 and reads == sorted(reads)  # never empty, never going back
    runner.catch_up()
    totals_now, positions = projected(event_store)
    assert positions == all_positions(event_store)
    assert sum(totals_now.values()) == len(positions)


def test_a_failed_rebuild_leaves_the_live_tables_alone(event_store: SqlEventStore) -> None:
    fill(event_store, 10)
    event_store.append("bad", [NewEvent("Poison", {})], ANY_VERSION)
    runner = ProjectionRunner(event_store, [Tally()])
    runner.catch_up()
    before = projected(event_store)

    with pytest.raises(ProjectionFailed) as failed:
        ProjectionRunner(event_store, [Tally(poison="Poison")]).rebuild("tally")
    assert "poisoned" in str(failed.value.__cause__)

    assert projected(event_store) == before
    with event_store.engine.connect() as conn:
        assert not [t for t in inspect(conn).get_table_names() if "__rb_" in t]


ONE_APPEND = """
import sys
from speedledger.central.eventstore import ANY_VERSION, NewEvent, create_event_store
store = create_event_store(sys.argv[1])
[event] = store.append("other-process", [NewEvent("Counted", {})], ANY_VERSION)
print(event.position, flush=True)
store.close()
"""


def test_the_runner_is_woken_by_appends_from_another_process(event_store: SqlEventStore) -> None:
    """An ingest process and a projections process on one database: PostgreSQL's NOTIFY, SQLite's
    `data_version` watcher, not the 30 s poll."""
    runner = ProjectionRunner(event_store, [Tally()], poll_interval=30)
    runner.start()
    url = event_store.engine.url.render_as_string(hide_password=False)
    try:
        time.sleep(0.3)  # the runner is asleep and the LISTEN connection (or the watcher) is up
        other = subprocess.run(
            [sys.executable, "-c", ONE_APPEND, url], cwd=REPO, capture_output=True, text=True, timeout=60
        )
        assert other.returncode == 0, other.stderr
        assert runner.wait_for(int(other.stdout), timeout=2)
    finally:
        runner.close()


APPENDER = """
import sys, time
from speedledger.central.eventstore import ANY_VERSION, NewEvent, create_event_store
store = create_event_store(sys.argv[1])
worst = 0.0
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    started = time.monotonic()
    store.append("other-process", [NewEvent("Counted", {})], ANY_VERSION)
    worst = max(worst, time.monotonic() - started)
    time.sleep(0.01)
print(worst)
"""


def test_another_process_keeps_appending_during_a_rebuild(event_store: SqlEventStore) -> None:
    """`speedledger central rebuild` runs beside a live central: the live writers must not starve."""
    filled = fill(event_store, 300)
    runner = ProjectionRunner(event_store, [Tally(delay_s=0.004)], batch_size=25, rebuild_batch_size=25)
    runner.catch_up()
    url = event_store.engine.url.render_as_string(hide_password=False)
    appender = subprocess.Popen(
        [sys.executable, "-c", APPENDER, url, "4.0"], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while event_store.last_position() == sum(filled.values()) and time.monotonic() < deadline:
            time.sleep(0.02)  # until the other process appends
        started = time.monotonic()
        runner.rebuild("tally")
        rebuild_s = time.monotonic() - started
    finally:
        out, _ = appender.communicate(timeout=60)
    assert appender.returncode == 0
    assert rebuild_s > 1.0, "the rebuild must be long enough to matter"
    assert float(out) < rebuild_s / 2  # waited for a batch or so, never for the whole rebuild
    runner.catch_up()
    assert projected(event_store)[1] == all_positions(event_store)


def test_processes_starting_together_create_the_schema_once(empty_database_url: str) -> None:
    """Several ingest workers or centrals starting at once on an empty database (PostgreSQL would
    otherwise fail with 'relation already exists' or a pg_type unique violation)."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(5)

    def start() -> None:
        barrier.wait()
        try:
            store = create_event_store(empty_database_url)
            ProjectionRunner(store, [Tally()]).close()
            store.close()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []


class Traffic(Tally):
    """Tally that appends one more event for each it applies (up to `cap`): traffic that never stops
    while the runner works, as a busy road gives a command's read-your-writes wait."""

    def __init__(self, cap: int) -> None:
        super().__init__()
        self.cap = cap

    def apply(self, tx: Transaction, event: RecordedEvent) -> None:
        super().apply(tx, event)
        if event.position < self.cap:
            tx.append("traffic", [NewEvent("Counted", {"n": event.position})], ANY_VERSION)


def test_catch_up_until_a_position_is_bounded_under_steady_traffic(event_store: SqlEventStore) -> None:
    fill(event_store, 5)
    runner = ProjectionRunner(event_store, [Traffic(cap=300)], batch_size=5)

    applied = runner.catch_up(until=5)  # what a command waits for: its own position, not the moving head

    assert checkpoint(event_store) >= 5
    assert applied <= 10  # at most the batch that reached the position and the one in flight
    assert event_store.last_position() > checkpoint(event_store)  # traffic went on without it
    assert runner.catch_up() + applied == event_store.last_position() > 300  # unbounded: chases it to its end


def test_a_command_waits_for_its_own_position_only(event_store: SqlEventStore) -> None:
    runner = ProjectionRunner(event_store, [Traffic(cap=300)], batch_size=5)
    fill(event_store, 5)

    runner.catch_up_to_now()

    assert 5 <= checkpoint(event_store) < 300
