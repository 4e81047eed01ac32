"""SQLite adapter: WAL, synchronous=FULL, one writer at a time via BEGIN IMMEDIATE.

pysqlite's own transaction handling is switched off (it would begin lazily and deferred); every
transaction is begun explicitly: `BEGIN IMMEDIATE` for writers, so concurrent writers queue on the
busy timeout instead of failing on a lock upgrade, and plain `BEGIN` for readers, which never block
writers in WAL mode.

Once something subscribes with `on_append`, a watcher thread asks SQLite whether another connection
committed (`PRAGMA data_version`, answered from the WAL index in shared memory: no disk read), and
wakes the subscribers for commits made by other processes, as PostgreSQL's LISTEN does: an ingest
process and a projections process on one database file. It asks every `WATCH_INTERVAL_S` while
another process writes, and backs off to `WATCH_IDLE_S` while every change is this process's own
(one `speedledger central` alone) or nothing changes: each look costs 50-90 us of CPU.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPICursor

from speedledger.central.eventstore.sql import WRITER_OPTION, SqlEventStore

log = logging.getLogger(__name__)

#: FULL: a commit is on disk (WAL fsynced) before `append` returns, so an acked radar message survives
#: a power cut. NORMAL would fsync only at checkpoints and can lose the last commits.
SYNCHRONOUS = "FULL"
BUSY_TIMEOUT_MS = 30_000
#: How often a subscribed store looks for commits by other processes while they write: what it adds
#: to their wake-up.
WATCH_INTERVAL_S = 0.005
#: The longest wait between looks, reached by doubling while no other process is seen writing.
WATCH_IDLE_S = 0.1


def sqlite_engine(url: str, *, synchronous: str = SYNCHRONOUS) -> Engine:
    parsed = make_url(url)
    if parsed.database in (None, "", ":memory:") or "mode=memory" in str(parsed):
        raise ValueError(f"the SQLite event store needs a file (WAL), not an in-memory database: {url!r}")
    # hide_parameters: a failing statement is logged without its values (owner data, messages).
    engine = create_engine(
        parsed,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000},
        pool_size=10,
        max_overflow=20,
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        _enable_wal(dbapi_connection)
        for pragma in (
            f"synchronous={synchronous}",
            f"busy_timeout={BUSY_TIMEOUT_MS}",
            "foreign_keys=ON",
        ):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(WRITER_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _enable_wal(dbapi_connection: sqlite3.Connection) -> None:
    """Switch the database to WAL (it stays so). SQLite answers "database is locked" at once, without
    its busy handler, when several processes switch a new database at the same moment: retry then."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(2 * delay, 0.1)


class FairLock:
    """A FIFO lock: `release` hands the lock to the longest waiter, so a thread that writes back to
    back (a projection catching up a backlog) cannot starve the others."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Event] = deque()
        self._held = False
        self._owner: int | None = None

    def __enter__(self) -> None:
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                raise RuntimeError(
                    "a write transaction is already open in this thread and SQLite has one writer: "
                    "append inside it with tx.append(...)"
                )
            if not self._held:
                self._held, self._owner = True, me
                return
            turn = threading.Event()
            self._waiters.append(turn)
        turn.wait()
        self._owner = me

    def __exit__(self, *_exc: object) -> None:
        with self._mutex:
            self._owner = None
            if self._waiters:
                self._waiters.popleft().set()
            else:
                self._held = False


class WriterTurn:
    """A writer's turn at the database: first among this process's threads (`FairLock`), then among
    processes, by POSIX locks on a file beside the database (`<database>-writer`).

    Writers of other processes (an ingest process beside a projections process, a rebuild) wait for
    it in the kernel and are woken when it is released. On SQLite's busy handler alone they poll
    with sleeps of up to 100 ms and lose to a process that begins again soon after it commits: the
    ingest at 500 violations/s holds the write lock most of the time, its fsyncs included. Two locks
    make the turns fair: a writer takes the gate, then the turn, then lets go of the gate, so a
    process that commits and begins again at once queues behind the one already waiting for the
    turn (which holds the gate). The kernel releases the locks of a process that dies. Writes
    outside the event store's transactions (the key vault, the ingest's liveness rows) still meet
    on SQLite's own lock and its busy timeout.
    """

    _GATE, _TURN = 0, 1  # the bytes of the file each lock covers

    def __init__(self, database: str) -> None:
        self._threads = FairLock()
        self._path = f"{database}-writer"
        self._fd: int | None = None
        #: Turns taken so far in this process (the watcher tells this process's commits from others').
        self.taken = 0

    def __enter__(self) -> None:
        self._threads.__enter__()
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.lockf(self._fd, fcntl.LOCK_EX, 1, self._GATE)
            try:
                fcntl.lockf(self._fd, fcntl.LOCK_EX, 1, self._TURN)
            finally:
                fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, self._GATE)
        except BaseException:
            self._threads.__exit__()
            raise

    def __exit__(self, *_exc: object) -> None:
        try:
            self.taken += 1
            assert self._fd is not None
            fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, self._TURN)
        finally:
            self._threads.__exit__()

    def close(self) -> None:
        """Close the lock file (POSIX locks are the process's: closing any descriptor of the file drops them)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class SqliteEventStore(SqlEventStore):
    """Appends are serialised by BEGIN IMMEDIATE, so rowid order is commit order.

    SQLite's busy handler polls with sleeps of up to 100 ms, so a writer waiting on it loses to a
    thread or a process that commits and begins again at once. Writers therefore queue for a
    `WriterTurn` first; the busy timeout only arbitrates the writes made outside it.
    """

    def __init__(self, url: str, *, synchronous: str = SYNCHRONOUS) -> None:
        engine = sqlite_engine(url, synchronous=synchronous)
        assert engine.url.database is not None  # sqlite_engine refuses anything but a file
        self._turns = WriterTurn(engine.url.database)
        self._synchronous = synchronous
        self._watcher: threading.Thread | None = None
        self._watch_lock = threading.Lock()
        self._closing = threading.Event()
        super().__init__(engine)

    def on_append(self, listener: Callable[[int], None]) -> Callable[[], None]:
        """As the base, and commits by other processes call `listener(0)` (position unknown): within
        `WATCH_INTERVAL_S` while they keep writing, `WATCH_IDLE_S` after a quiet spell."""
        unsubscribe = super().on_append(listener)
        with self._watch_lock:
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, name="event-store-watch", daemon=True)
                self._watcher.start()
        return unsubscribe

    def _watch(self) -> None:
        """`_notify(0)` whenever `data_version` moves: a commit by any other connection, this process's
        included (their subscribers are woken twice, which is harmless)."""
        database = self.engine.url.database
        assert database is not None
        while not self._closing.is_set():
            try:
                with closing(sqlite3.connect(database, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)) as conn:
                    version = conn.execute("PRAGMA data_version").fetchone()[0]
                    own, interval = self._turns.taken, WATCH_INTERVAL_S
                    while not self._closing.wait(interval):
                        now = conn.execute("PRAGMA data_version").fetchone()[0]
                        changed, ours, own = now != version, self._turns.taken != own, self._turns.taken
                        if changed:
                            version = now
                            self._notify(0)
                        # A change and no write transaction of ours since the last look: another process writes.
                        interval = WATCH_INTERVAL_S if changed and not ours else min(WATCH_IDLE_S, 2 * interval)
            except sqlite3.Error as error:
                log.warning("watching %s failed (%s); subscribers fall back to polling, retry in 5 s", database, error)
                self._closing.wait(5)

    def close(self) -> None:
        self._closing.set()
        if self._watcher is not None:
            self._watcher.join(5)
        super().close()
        self._turns.close()

    def _writer_turn(self) -> WriterTurn:
        return self._turns

    def _begin_append(self, cursor: DBAPICursor) -> None:
        cursor.execute("BEGIN IMMEDIATE")

    @contextmanager
    def _commit_without_waiting(self, conn: Connection) -> Iterator[None]:
        """`synchronous=NORMAL` for this transaction: in WAL mode its commit is not fsynced (the next
        checkpoint or durable commit syncs it), and a crash can only drop it from the WAL's tail. The
        connection is back to `synchronous=FULL` before the pool lends it again, or thrown away."""
        raw = conn.connection.dbapi_connection
        assert raw is not None
        raw.execute("PRAGMA synchronous=NORMAL")
        try:
            yield
        finally:
            try:
                raw.execute(f"PRAGMA synchronous={self._synchronous}")
            except BaseException:
                conn.invalidate()  # never lend a connection whose commits do not wait
                raise
