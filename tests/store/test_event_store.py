"""The event store contract, run against SQLite and PostgreSQL alike (fixture `event_store`); what the
port promises also against the in-memory store of the tests (fixture `store`)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from speedledger.central.entrypoints.process_memory import sqlite_heap
from speedledger.central.eventstore import (
    ANY_VERSION,
    NO_STREAM,
    AppendRequest,
    DuplicateEvent,
    EventStore,
    NewEvent,
    RecordedEvent,
    SqlEventStore,
    WrongExpectedVersion,
    create_event_store,
)
from speedledger.central.eventstore.sqlite import sqlite_engine
from tests.fixtures.postgres import DATABASES, fresh_database_url
from tests.store.memory_store import MemoryEventStore

REPO = Path(__file__).resolve().parents[2]


def events(count: int, type_: str = "Happened") -> list[NewEvent]:
    return [NewEvent(type_, {"n": n, "text": "é ✓"}, {"causation": f"c{n}"}) for n in range(count)]


@pytest.fixture(params=[*DATABASES, "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    """Every store behind the port: SQLite, PostgreSQL and the in-memory one (tests/store/memory_store.py)."""
    if request.param == "memory":
        store: EventStore = MemoryEventStore(sqlite_engine(f"sqlite:///{tmp_path / 'read-models.db'}"))
    else:
        store = create_event_store(fresh_database_url(request, tmp_path, empty=True))
    try:
        yield store
    finally:
        store.close()


def test_append_assigns_versions_and_positions_and_round_trips(store: EventStore) -> None:
    first = store.append("radar-1", events(2), NO_STREAM)
    other = store.append("radar-2", events(1), NO_STREAM)
    more = store.append("radar-1", events(1), expected_version=2)

    assert [e.version for e in first + more] == [1, 2, 3]
    assert [e.version for e in other] == [1]
    positions = [e.position for e in first + other + more]
    assert positions == sorted(positions) and len(set(positions)) == 4
    stored = store.read_stream("radar-1")
    assert stored == first + more
    assert stored[0].data == {"n": 0, "text": "é ✓"} and stored[0].metadata == {"causation": "c0"}
    assert store.read_stream("radar-1", after_version=2) == more
    assert store.read_stream("nobody") == []
    assert store.last_position() == more[-1].position
    assert store.stream_versions(["radar-1", "nobody", "radar-2"]) == {"radar-1": 3, "radar-2": 1}
    assert store.stream_versions([]) == {}


@pytest.mark.parametrize(("expected", "actual_after_setup"), [(NO_STREAM, 2), (1, 2), (3, 2)])
def test_wrong_expected_version_appends_nothing(store: EventStore, expected: int, actual_after_setup: int) -> None:
    store.append("s", events(actual_after_setup), NO_STREAM)
    head = store.last_position()

    with pytest.raises(WrongExpectedVersion) as raised:
        store.append("s", events(2), expected)

    assert (raised.value.stream_id, raised.value.expected, raised.value.actual) == ("s", expected, actual_after_setup)
    assert store.last_position() == head
    assert len(store.read_stream("s")) == actual_after_setup


def test_any_version_appends_whatever_the_version(store: EventStore) -> None:
    store.append("s", events(1), ANY_VERSION)
    assert [e.version for e in store.append("s", events(2), ANY_VERSION)] == [2, 3]


def test_invalid_appends_are_refused_alike_on_both_stores(event_store: SqlEventStore) -> None:
    with pytest.raises(ValueError):
        event_store.append("s", events(1), -2)
    with pytest.raises(ValueError):
        event_store.append("", events(1), NO_STREAM)
    with pytest.raises(ValueError):
        event_store.append("s" * 256, events(1), NO_STREAM)
    with pytest.raises(ValueError):
        event_store.append_batch([AppendRequest("s", [NewEvent("X", {}, event_id="e" * 65)], NO_STREAM)])
    assert event_store.read_all() == []


def race(store: EventStore, writers: int, expected: int) -> list[list[RecordedEvent] | WrongExpectedVersion]:
    """`writers` threads released at once, each appending one event to "contested" at `expected`."""
    barrier = threading.Barrier(writers)
    outcomes: list[list[RecordedEvent] | WrongExpectedVersion] = []

    def write() -> None:
        barrier.wait()
        try:
            outcomes.append(store.append("contested", events(1), expected))
        except WrongExpectedVersion as error:
            outcomes.append(error)

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def test_concurrent_appends_to_one_stream_exactly_one_wins(store: EventStore) -> None:
    writers = 6
    for version in range(3):
        outcomes = race(store, writers, expected=version)
        winners = [o for o in outcomes if isinstance(o, list)]
        losers = [o for o in outcomes if isinstance(o, WrongExpectedVersion)]
        assert len(winners) == 1 and len(losers) == writers - 1
        assert all(loser.actual == version + 1 for loser in losers)
    assert [e.version for e in store.read_stream("contested")] == [1, 2, 3]


def test_a_known_event_id_is_a_duplicate(store: EventStore) -> None:
    original = NewEvent("ViolationRecorded", {"seq": 7})
    recorded = store.append("violation-r1-7", [original], NO_STREAM)
    head = store.last_position()

    # The radar re-sends the same message: a duplicate, not a version conflict.
    with pytest.raises(DuplicateEvent) as resent:
        store.append("violation-r1-7", [original], NO_STREAM)
    assert resent.value.event_id == original.event_id
    # The same event_id on another stream, even where the version would fit.
    with pytest.raises(DuplicateEvent):
        store.append("elsewhere", [NewEvent("X", {}), original], NO_STREAM)
    # Another event_id for the same radar+seq: the version conflict ("seq reuse").
    with pytest.raises(WrongExpectedVersion):
        store.append("violation-r1-7", [NewEvent("ViolationRecorded", {"seq": 7})], NO_STREAM)

    assert store.last_position() == head
    assert store.read_all() == recorded
    assert store.read_stream("elsewhere") == []


def test_the_same_event_id_twice_in_one_append_is_a_duplicate(store: EventStore) -> None:
    twice = NewEvent("X", {})
    with pytest.raises(DuplicateEvent) as raised:
        store.append("s", [twice, twice], NO_STREAM)
    assert raised.value.event_id == twice.event_id
    assert store.read_all() == []


def test_append_batch_gives_each_request_its_own_outcome(store: EventStore) -> None:
    known = NewEvent("X", {})
    store.append("existing", [known], NO_STREAM)

    outcomes = store.append_batch(
        [
            AppendRequest("a", events(2), NO_STREAM),
            AppendRequest("existing", events(1), NO_STREAM),  # conflict
            AppendRequest("b", [NewEvent("X", {}), known], NO_STREAM),  # duplicate inserted mid-request
            AppendRequest("existing", events(1), 1),
            AppendRequest("a", events(1), 2),  # sees the first request's events
        ]
    )

    assert isinstance(outcomes[0], list) and [e.version for e in outcomes[0]] == [1, 2]
    assert isinstance(outcomes[1], WrongExpectedVersion) and outcomes[1].actual == 1
    assert isinstance(outcomes[2], DuplicateEvent) and outcomes[2].event_id == known.event_id
    assert isinstance(outcomes[3], list) and outcomes[3][0].version == 2
    assert isinstance(outcomes[4], list) and outcomes[4][0].version == 3
    assert store.read_stream("b") == []
    written = [e for o in outcomes if isinstance(o, list) for e in o]
    assert [e for e in store.read_all() if e.stream_id != "existing" or e.version > 1] == written


def test_read_all_pages_through_the_log_in_position_order(store: EventStore) -> None:
    appended: list[RecordedEvent] = []
    for n in range(25):
        appended += store.append(f"s{n % 4}", events(1 + n % 3), ANY_VERSION)

    pages, after = [], 0
    while page := store.read_all(after, limit=7):
        assert len(page) <= 7
        pages += page
        after = page[-1].position
    assert pages == appended
    assert store.read_all(appended[-1].position) == []
    assert store.read_all(appended[10].position, limit=3) == appended[11:14]


def test_read_all_of_some_types_skips_the_others(store: EventStore) -> None:
    appended: list[RecordedEvent] = []
    for n in range(30):
        appended += store.append(f"s{n % 4}", events(1, ("Wanted", "Other", "AlsoWanted")[n % 3]), ANY_VERSION)
    wanted = [e for e in appended if e.type in ("Wanted", "AlsoWanted")]

    pages, after = [], 0
    while page := store.read_all(after, limit=7, types={"Wanted", "AlsoWanted"}):
        assert len(page) <= 7
        pages += page
        after = page[-1].position
    assert pages == wanted
    assert store.read_all(0, types=["Other"]) == [e for e in appended if e.type == "Other"]
    assert store.read_all(wanted[-1].position, types={"Wanted", "AlsoWanted"}) == []
    assert store.read_all(0, types=()) == []


def test_append_wakes_listeners_after_commit(store: EventStore) -> None:
    seen: list[tuple[int, int]] = []
    unsubscribe = store.on_append(lambda position: seen.append((position, store.last_position())))
    first = store.append("s", events(2), NO_STREAM)
    batch = store.append_batch([AppendRequest("t", events(1), NO_STREAM)])
    unsubscribe()
    store.append("s", events(1), ANY_VERSION)

    assert isinstance(batch[0], list)
    # Each listener call already sees its events committed. (PostgreSQL's LISTEN thread adds calls
    # with position 0 for every commit, this process's included.)
    assert [call for call in seen if call[0] != 0] == [(first[-1].position,) * 2, (batch[0][-1].position,) * 2]


def test_a_transaction_commits_its_appends_together_or_not_at_all(store: EventStore) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.append("s", events(1), NO_STREAM)
        raise RuntimeError("the caller's work failed")
    assert store.read_all() == []

    with store.transaction() as tx:
        [first] = tx.append("s", events(1), NO_STREAM)
        with pytest.raises(WrongExpectedVersion):
            tx.append("s", events(1), NO_STREAM)
        with pytest.raises(DuplicateEvent):  # a duplicate of an event not yet committed, too
            tx.append("t", [NewEvent("X", {}, event_id=first.event_id)], NO_STREAM)
        tx.append("s", events(1), 1)  # the transaction is still usable
        assert [e.stream_id for e in tx.read_all()] == ["s", "s"]  # it reads its own appends
        assert store.read_all() == []  # which nobody else sees before the commit
    assert [e.version for e in store.read_stream("s")] == [1, 2]
    assert store.read_stream("t") == []


def test_concurrent_writers_and_a_tailing_reader_see_every_event_once(event_store: SqlEventStore) -> None:
    writers, per_writer = 4, 25
    seen: list[int] = []
    done = threading.Event()

    def tail() -> None:
        after = 0
        while True:
            finished = done.is_set()
            for event in event_store.read_all(after):
                seen.append(event.position)
                after = event.position
            if finished:
                return
            time.sleep(0.001)

    def write(writer: int) -> None:
        for n in range(per_writer):
            if n % 5 == 0:
                event_store.append_batch([AppendRequest(f"w{writer}-{n}-{k}", events(1), NO_STREAM) for k in range(3)])
            else:
                event_store.append(f"w{writer}", events(1), ANY_VERSION)

    reader = threading.Thread(target=tail)
    reader.start()
    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    done.set()
    reader.join(30)

    everything = [e.position for e in event_store.read_all(limit=10_000)]
    assert len(everything) == writers * (per_writer + 2 * per_writer // 5)
    assert seen == everything


def test_a_lower_position_committing_late_is_not_skipped(event_store: SqlEventStore) -> None:
    """The sequence-gap scenario: A draws a position and commits late, B appends meanwhile, a reader
    polls throughout. The reader must end up with A's event before B's, never past it."""
    seen: list[RecordedEvent] = []
    stop = threading.Event()

    def poll() -> None:
        after = 0
        while not stop.is_set() or event_store.last_position() > after:
            for event in event_store.read_all(after):
                seen.append(event)
                after = event.position
            time.sleep(0.005)

    reader = threading.Thread(target=poll)
    reader.start()
    with event_store.transaction() as slow:
        a = slow.append("a", events(1), NO_STREAM)
        b_result: list[RecordedEvent] = []
        b = threading.Thread(target=lambda: b_result.extend(event_store.append("b", events(1), NO_STREAM)))
        b.start()
        time.sleep(0.3)  # B is waiting to append and the reader is polling while A is uncommitted
        assert seen == []
    b.join(30)
    stop.set()
    reader.join(30)

    assert [e.stream_id for e in seen] == ["a", "b"]
    assert seen[0].position == a[0].position < b_result[0].position == seen[1].position


@pytest.mark.postgres
def test_without_the_append_lock_a_postgres_reader_would_skip(empty_postgres_url: str) -> None:
    """Control for the test above: plain concurrent inserts into the same table do leave a reader
    behind a gap, so the store's serialised appends are what prevent it."""
    store = create_event_store(empty_postgres_url)
    insert = text(
        "INSERT INTO events (stream_id, version, event_id, type, data, metadata, recorded_at_ms)"
        " VALUES (:s, 1, :s, 'X', '{}', '{}', 0) RETURNING position"
    )
    try:
        with store.engine.connect() as a, store.engine.connect() as b:
            a.begin()
            low = a.execute(insert, {"s": "a"}).scalar_one()
            with b.begin():
                high = b.execute(insert, {"s": "b"}).scalar_one()
            cursor = store.read_all(0)[-1].position  # a naive reader advances to `high`
            a.commit()
        assert low < high == cursor
        assert [e.position for e in store.read_all(cursor)] == []  # `low` is never seen
    finally:
        store.close()


def test_factory_rejects_unknown_and_in_memory_urls(tmp_path: object) -> None:
    with pytest.raises(ValueError):
        create_event_store("mysql://localhost/db")
    with pytest.raises(ValueError):
        create_event_store("sqlite://")


def test_large_appends_and_batches_cross_the_statement_chunks(event_store: SqlEventStore) -> None:
    long_stream = event_store.append("long", events(1234), NO_STREAM)
    assert [e.version for e in long_stream] == list(range(1, 1235))
    assert event_store.read_stream("long") == long_stream

    known = long_stream[777]
    requests = [AppendRequest(f"b{n}", events(1), NO_STREAM) for n in range(1100)]
    requests[600] = AppendRequest("b600", [NewEvent("X", {}, event_id=known.event_id)], NO_STREAM)
    requests[1000] = AppendRequest("long", events(1), 1234)
    requests[1050] = AppendRequest("long", events(1), 1234)  # the request at 1000 moved the stream on
    outcomes = event_store.append_batch(requests)

    assert isinstance(outcomes[600], DuplicateEvent) and outcomes[600].event_id == known.event_id
    assert isinstance(outcomes[1000], list) and outcomes[1000][0].version == 1235
    assert isinstance(outcomes[1050], WrongExpectedVersion) and outcomes[1050].actual == 1235
    written = [e for o in outcomes if isinstance(o, list) for e in o]
    assert len(written) == 1098
    versions = event_store.stream_versions(["long", *(f"b{n}" for n in range(1100))])
    assert len(versions) == 1098 and versions["long"] == 1235 and "b600" not in versions  # b1000, b1050: "long"
    assert event_store.read_all(long_stream[-1].position, limit=5000) == written


def test_sqlite_refuses_a_second_write_transaction_in_the_same_thread(tmp_path: object) -> None:
    """SQLite has one writer: an `append` inside an open `transaction()` of the same thread would
    wait for itself; it fails at once and says to use `tx.append`."""
    store = create_event_store(f"sqlite:///{tmp_path}/one-writer.db")
    try:
        with store.transaction() as tx, pytest.raises(RuntimeError, match=r"tx\.append"):
            store.append("s", events(1), NO_STREAM)
            del tx
        assert store.append("s", events(1), NO_STREAM)[0].version == 1  # the queue was left clean
    finally:
        store.close()


BACK_TO_BACK = """
import sys, time
from speedledger.central.eventstore import create_event_store
store = create_event_store(sys.argv[1])
print("writing", flush=True)
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    with store.transaction():
        time.sleep(0.02)  # a writer whose commits take 20 ms, beginning again at once
store.close()
"""


def test_sqlite_writers_of_two_processes_take_turns(tmp_path: Path) -> None:
    """A process that commits and begins again at once (the ingest under load) does not starve a
    writer in another process (the projections): it waits about one transaction, not the whole run
    (on SQLite's busy handler alone, polling with sleeps of up to 100 ms, it waited for seconds)."""
    url = f"sqlite:///{tmp_path}/two-writers.db"
    store = create_event_store(url)
    other = subprocess.Popen(
        [sys.executable, "-c", BACK_TO_BACK, url, "6"], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "writing"
        time.sleep(0.2)
        waits = []
        for _ in range(20):
            started = time.monotonic()
            store.append("s", events(1), ANY_VERSION)
            waits.append(time.monotonic() - started)
        assert other.poll() is None, "the other process must still be writing"
        assert sorted(waits)[len(waits) // 2] < 0.1 and max(waits) < 1.0, waits
    finally:
        other.kill()
        other.wait(10)
        store.close()


def test_a_transaction_reads_its_own_appends_of_the_types_asked_for(store: EventStore) -> None:
    store.append("s", events(2, "Wanted"), NO_STREAM)
    with store.transaction() as tx:
        tx.append("s", events(1, "Other"), expected_version=2)
        [own] = tx.append("s", events(1, "Wanted"), expected_version=3)
        assert [e.type for e in tx.read_all(0, types={"Wanted"})] == ["Wanted"] * 3
        assert tx.read_all(0, limit=2, types={"Wanted"})[-1].position < own.position
        assert tx.read_all(0, types={"Other", "Wanted"})[-1] == own


def _durability(conn: Connection) -> str:
    if conn.dialect.name == "sqlite":
        return str(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())
    return str(conn.exec_driver_sql("SHOW synchronous_commit").scalar_one())


def test_a_transaction_that_need_not_wait_for_the_disk_leaves_every_connection_durable(
    event_store: SqlEventStore,
) -> None:
    """`durable=False` (a rebuild's shadow tables) commits like any transaction, and no pooled connection
    keeps the relaxed setting afterwards, after a rollback either."""
    with event_store.engine.connect() as conn:
        durable = _durability(conn)
    with event_store.transaction(durable=False) as tx:
        if tx.connection.dialect.name == "postgresql":
            assert _durability(tx.connection) == "off"
        tx.append("s", events(1), NO_STREAM)
    with pytest.raises(RuntimeError), event_store.transaction(durable=False) as tx:
        tx.append("s", events(1), expected_version=1)
        raise RuntimeError("rolled back")

    assert [e.version for e in event_store.read_stream("s")] == [1]
    pool = event_store.engine.pool
    with contextlib.ExitStack() as connections:
        every = [connections.enter_context(event_store.engine.connect()) for _ in range(pool.checkedin())]  # type: ignore[attr-defined]
        assert every and [_durability(conn) for conn in every] == [durable] * len(every)


def test_batches_of_every_size_leave_sqlite_few_statements_to_keep(tmp_path: Path) -> None:
    """A connection keeps each statement text it prepared (pysqlite: its last 128, in SQLite's heap),
    and a multi-row INSERT or an IN list is a new text for each size: batches of every size up to 300
    filled one connection with ~20 MiB of statements (docs/scaling.md, "Backlog"). Cut to a few shapes,
    SQLite's heap stays within its page cache and schema, however many sizes come."""
    store = create_event_store(f"sqlite:///{tmp_path}/shapes.db")
    try:
        store.append("warm", events(1), NO_STREAM)
        store.stream_versions(["warm"])
        before, _ = sqlite_heap()
        for size in range(1, 301):
            streams = [f"s{size}-{n}" for n in range(size)]
            outcomes = store.append_batch([AppendRequest(stream, events(1), NO_STREAM) for stream in streams])
            assert all(isinstance(outcome, list) for outcome in outcomes)
            assert store.stream_versions([*streams, "nobody"]) == dict.fromkeys(streams, 1)
        grown, _ = sqlite_heap()
    finally:
        store.close()
    assert grown - before < 6 * 2**20, f"SQLite's heap grew by {(grown - before) / 2**20:.1f} MiB"
