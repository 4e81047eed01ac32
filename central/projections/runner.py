"""The catch-up runner: feeds each projection the global log after its checkpoint, batch by batch.

Each batch is one write transaction holding the projection's rows and its new checkpoint, so a
crash (or an exception in `apply`) anywhere in a batch rolls both back: nothing is applied twice
and nothing is skipped. The background thread is woken by in-process appends and polls as a
fallback (appends from other processes). A projection that raises is stopped with a logged error
and retried with exponential backoff; the other projections carry on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import sqlalchemy as sa

from speedledger.central.eventstore.port import EventStore, RecordedEvent, Transaction
from speedledger.central.projections import checkpoints
from speedledger.central.projections.port import Decoded, Projection, apply_events, handled_types, writes_only
from speedledger.central.projections.rebuild import ShadowTables, drop_leftovers

log = logging.getLogger(__name__)

REBUILD_MAX_PAUSE_S = 0.05
#: Events a rebuild reads per query (outside the write lock).
REBUILD_PAGE = 5000
#: Events a rebuild applies per write transaction (`rebuild_batch_size`). Larger than a live round's: a
#: violation and its decision, which the process manager appends a round later, mostly land in one
#: batch, where `Writes` makes them one row; and fewer commits. Not the whole page: on SQLite a live
#: writer waits for a batch (about 0.1 s at this size on a loaded box, over 1 s at 5,000).
REBUILD_BATCH = 2000
#: Shortest time from one background round to the next. Each round costs a transaction, a commit and
#: a pass of every projection whatever it carries: under traffic (an ingest commit every few ms) one
#: round per append cost more than the events it applied. A lag of up to this much buys batches.
ROUND_INTERVAL_S = 0.02


class ProjectionFailed(Exception):
    """A projection raised while applying an event; its batch was rolled back."""

    def __init__(self, name: str, position: int) -> None:
        super().__init__(f"projection {name!r} failed on the batch after position {position}")
        self.name = name
        self.position = position


@dataclass(frozen=True, slots=True)
class ProjectionStatus:
    name: str
    position: int
    head: int
    #: The last error while the projection is stopped, None when healthy.
    error: str | None
    failures: int

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)


@dataclass
class _Failure:
    error: str
    count: int
    retry_at: float


class ProjectionRunner:
    def __init__(
        self,
        store: EventStore,
        projections: Sequence[Projection],
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        min_backoff: float = 0.5,
        max_backoff: float = 60.0,
        round_interval: float = ROUND_INTERVAL_S,
        rebuild_batch_size: int = REBUILD_BATCH,
    ) -> None:
        names = [projection.name for projection in projections]
        if len(set(names)) != len(names):
            raise ValueError(f"projection names must be unique: {names}")
        self.store = store
        self.projections = {projection.name: projection for projection in projections}
        self.batch_size = batch_size
        self.rebuild_batch_size = rebuild_batch_size
        self.poll_interval = poll_interval
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.round_interval = round_interval
        self._failures: dict[str, _Failure] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe = store.on_append(lambda _position: self._wake.set())
        self.setup()

    def setup(self) -> None:
        """Create the projections' tables, their indexes and checkpoint rows where missing (an index
        added to a table in a new version is built on an existing database here, once)."""
        with self.store.transaction() as tx:
            tx.lock_schema()
            catalog = sa.inspect(tx.connection)  # one look at the catalog, not one per table and index
            tables = set(catalog.get_table_names())
            indexes = {index["name"] for found in catalog.get_multi_indexes().values() for index in found}
            for projection in self.projections.values():
                for table in projection.tables:
                    if table.name not in tables:
                        table.create(tx.connection)  # with its indexes
                        continue
                    for index in table.indexes:
                        if index.name not in indexes:
                            index.create(tx.connection)
                checkpoints.ensure(tx.connection, projection.name)

    # -- catching up ----------------------------------------------------------------------------

    def catch_up(self, until: int | None = None) -> int:
        """Apply committed events to every projection, synchronously; returns events applied.

        Without `until`, until nothing moves (a process manager may append while we run). With it,
        until every projection has applied position `until`: a bounded wait however much traffic
        keeps arriving (`catch_up_to_now` is what a command waits for). Raises ProjectionFailed
        (after the batch rolled back) when a projection raises.
        """
        applied = 0
        while True:
            behind = self._behind(until)
            if not behind:
                return applied
            applied += self._round(behind)[0]

    def catch_up_to_now(self) -> int:
        """Read-your-writes after a command: catch up to the head as it is now, not as it moves on;
        then once more to the head after that, for what the process manager decided on the way (an
        infraction from a recorded violation). Two fixed targets: bounded under any traffic."""
        applied = self.catch_up(until=self.store.last_position())
        return applied + self.catch_up(until=self.store.last_position())

    def _behind(self, until: int | None = None) -> list[str]:
        with self.store.engine.connect() as conn:
            positions = checkpoints.read_all(conn)
        target = self.store.last_position() if until is None else until
        return [name for name in self.projections if positions.get(name, 0) < target]

    def _catch_up_together(self, names: Sequence[str]) -> None:
        """Rounds of `_round` until `names` have applied everything there was."""
        while self._round(names)[1] and not self._stopping.is_set():
            pass

    def _round(self, names: Sequence[str]) -> tuple[int, bool]:
        """One write transaction for every projection in `names`; returns (events applied, more to do).

        The log is read once from the lowest checkpoint (up to `batch_size` events) and each
        projection applies what lies after its own, in the order given: a process manager placed
        last appends its decisions just before the commit, so PostgreSQL's append lock is held for
        the appends and the commit only. One commit, one fsync and one turn at the store's writer
        lock per wake-up, instead of one per projection. The decisions are applied by the next round.
        """
        applied = 0
        moved: dict[str, int] = {}
        with self.store.transaction() as tx:
            positions = checkpoints.lock_all(tx.connection, names)
            events = tx.read_all(min(positions.values()), self.batch_size)
            for name in names:
                unseen = [event for event in events if event.position > positions[name]]
                if not unseen:
                    continue
                try:
                    apply_events(self.projections[name], tx, unseen)
                except Exception as error:
                    raise ProjectionFailed(name, positions[name]) from error
                moved[name] = unseen[-1].position
                applied += len(unseen)
            checkpoints.store_all(tx.connection, moved)
        return applied, len(events) == self.batch_size

    def _catch_up_one(self, projection: Projection) -> int:
        applied = 0
        while True:
            with self.store.transaction() as tx:
                position = checkpoints.lock(tx.connection, projection.name)
                try:
                    position, count = self._apply_batch(tx, projection, position)
                except Exception as error:
                    raise ProjectionFailed(projection.name, position) from error
                if count:
                    checkpoints.store(tx.connection, projection.name, position)
            applied += count
            if count < self.batch_size or self._stopping.is_set():
                return applied

    def _apply_batch(self, tx: Transaction, projection: Projection, after: int) -> tuple[int, int]:
        batch = tx.read_all(after, self.batch_size)
        apply_events(projection, tx, batch)
        return (batch[-1].position if batch else after), len(batch)

    # -- background thread ----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="projection-runner", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        self._wake.set()
        thread.join(timeout)

    def close(self) -> None:
        self.stop()
        self._unsubscribe()

    def _run(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            self._wake.clear()
            try:
                behind = self._behind()
            except Exception:
                log.exception("projection runner cannot read checkpoints; retrying")
                behind = []
            self._run_round(behind)
            # Appends that arrive meanwhile are applied together in the next round, not one round each.
            self._stopping.wait(max(0.0, started + self.round_interval - time.monotonic()))
            self._wake.wait(self._next_wait())

    def _run_round(self, behind: Sequence[str]) -> None:
        """The healthy projections together; any that failed before, or fails now, on its own."""
        alone = [name for name in behind if name in self._failures]
        together = [name for name in behind if name not in self._failures]
        if together:
            try:
                self._catch_up_together(together)
            except Exception:  # which one failed, and why, is found out and logged one by one
                alone += together
        for name in alone:
            if self._stopping.is_set():
                break
            self._run_one(name)

    def _run_one(self, name: str) -> None:
        failure = self._failures.get(name)
        if failure is not None and time.monotonic() < failure.retry_at:
            return
        try:
            self._catch_up_one(self.projections[name])
        except Exception as error:
            count = failure.count + 1 if failure else 1
            backoff = min(self.max_backoff, self.min_backoff * 2 ** (count - 1))
            cause = error.__cause__ or error
            self._failures[name] = _Failure(f"{type(cause).__name__}: {cause}", count, time.monotonic() + backoff)
            log.error("projection %r stopped (failure %d), retrying in %.1f s", name, count, backoff, exc_info=error)
        else:
            if failure is not None:
                log.info("projection %r recovered after %d failures", name, failure.count)
                self._failures.pop(name, None)

    def _next_wait(self) -> float:
        retries = [failure.retry_at for failure in self._failures.values()]
        if not retries:
            return self.poll_interval
        return max(0.0, min(self.poll_interval, min(retries) - time.monotonic()))

    # -- observation ----------------------------------------------------------------------------

    def status(self) -> list[ProjectionStatus]:
        with self.store.engine.connect() as conn:
            positions = checkpoints.read_all(conn)
        head = self.store.last_position()
        statuses = []
        for name in self.projections:
            failure = self._failures.get(name)
            statuses.append(
                ProjectionStatus(
                    name=name,
                    position=positions.get(name, 0),
                    head=head,
                    error=failure.error if failure else None,
                    failures=failure.count if failure else 0,
                )
            )
        return statuses

    def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        """Block until every projection has applied `position` (read-your-writes); False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            with self.store.engine.connect() as conn:
                positions = checkpoints.read_all(conn)
            if all(positions.get(name, 0) >= position for name in self.projections):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    # -- rebuild --------------------------------------------------------------------------------

    def rebuild(self, *names: str) -> Rebuilt:
        """Replay the whole log once into shadow tables of every projection in `names` (all of them when
        none is named) and swap them in atomically; returns what was done.

        The log is read once for all of them, in pages outside the write lock, of the event types they
        read; each batch of `rebuild_batch_size` events is applied to every rebuilt projection in one write
        transaction that need not wait for the disk (after a crash the shadow tables are dropped and
        rebuilt anyway). Secondary indexes of write-only projections are built after the replay (see
        `projections/rebuild.py`). The live tables keep
        serving reads, and the live projections keep catching up, until the swap; the swap holds the
        projections' checkpoint locks so no batch interleaves with it.
        """
        started = time.perf_counter()
        chosen = list(dict.fromkeys(names)) or list(self.projections)
        projections = [self.projections[name] for name in chosen]
        shadows: dict[str, ShadowTables] = {}
        try:
            with self.store.transaction() as tx:
                for projection in projections:
                    for leftover in drop_leftovers(tx.connection, projection.tables):
                        log.warning("dropped shadow table %s left by an interrupted rebuild", leftover)
                    shadow = ShadowTables.for_tables(projection.tables, defer_indexes=writes_only(projection))
                    shadow.create(tx.connection)
                    shadows[projection.name] = shadow
            replay = _Replay({p.name: p.bind(shadows[p.name].tables) for p in projections})
            self._replay_log(replay)
            with self.store.transaction() as tx:
                for shadow in shadows.values():
                    shadow.build_deferred_indexes(tx.connection)
            with self.store.transaction() as tx:
                checkpoints.lock_all(tx.connection, chosen)
                head = self.store.last_position()  # every event up to it is visible to the reads below
                while page := tx.read_all(replay.position, self.batch_size, replay.types):
                    replay.apply(tx, [event for event in page if event.position <= head])
                    if page[-1].position >= head:
                        break
                replay.end(tx)
                for shadow in shadows.values():
                    shadow.swap(tx.connection)
                checkpoints.store_all(tx.connection, dict.fromkeys(chosen, head))
        except BaseException:
            with self.store.transaction() as tx:
                for shadow in shadows.values():
                    shadow.drop(tx.connection)
            raise
        for name in chosen:
            self._failures.pop(name, None)
        log.info("projections %s rebuilt up to position %d", ", ".join(chosen), head)
        return Rebuilt(head, replay.events, replay.reading_s, dict(replay.applying_s), time.perf_counter() - started)

    def _replay_log(self, replay: _Replay) -> None:
        """Every page of the log into `replay`, in write transactions of `rebuild_batch_size` events.

        Each batch's writes are worked out before its transaction begins (`_Replay.prepare`), so the
        write lock is held only while they run. SQLite: a rebuild usually runs in its own process
        (`speedledger central rebuild`); the running central's writers queue for their turn across
        processes (`WriterTurn`) and get one between batches, and the rebuild leaves the write lock free
        for at least a third of the time (reading and preparing the next batch count), pausing for what
        is missing, at most REBUILD_MAX_PAUSE_S.
        """
        dialect = self.store.engine.dialect.name
        yield_to_others = dialect == "sqlite"
        held_s, released = 0.0, time.monotonic()
        while True:
            read_started = time.perf_counter()
            page = self.store.read_all(replay.position, REBUILD_PAGE, replay.types)
            replay.reading_s += time.perf_counter() - read_started
            for start in range(0, len(page), self.rebuild_batch_size):
                prepared = replay.prepare(dialect, page[start : start + self.rebuild_batch_size])
                if yield_to_others:
                    time.sleep(min(REBUILD_MAX_PAUSE_S, max(0.0, held_s / 2 - (time.monotonic() - released))))
                taken = time.monotonic()
                with self.store.transaction(durable=False) as tx:
                    replay.write(tx, prepared)
                released = time.monotonic()
                held_s = released - taken
            if len(page) < REBUILD_PAGE:
                return


@dataclass(frozen=True)
class Rebuilt:
    """What one `ProjectionRunner.rebuild` did."""

    #: The checkpoint every rebuilt projection was given: the log's head at the swap.
    position: int
    #: Events read from the log (those of the types the projections read), and the seconds it took
    #: (the query and decoding the JSON).
    events: int
    reading_s: float
    #: Per projection, the seconds spent applying its events to its shadow tables.
    applying_s: dict[str, float]
    #: The whole rebuild, deferred index builds and the swap included.
    seconds: float


#: A projection's share of a batch, ready to write: (its name, the position before it, the write).
_Prepared = tuple[str, int, Callable[[Transaction], None]]


class _Replay:
    """The projections being rebuilt, fed the pages of one read of the log, each the events it reads."""

    def __init__(self, bound: dict[str, Projection]) -> None:
        self.bound = bound
        self._types = {name: handled_types(projection) for name, projection in bound.items()}
        known = [types for types in self._types.values() if types is not None]
        #: What to read: the union of the projections' types; None (every event) if one reads all.
        self.types = frozenset[str]().union(*known) if len(known) == len(self._types) else None
        self.position = 0
        self.events = 0
        self.reading_s = 0.0
        self.applying_s = dict.fromkeys(bound, 0.0)

    def prepare(self, dialect: str, page: Sequence[RecordedEvent]) -> list[_Prepared]:
        """Each projection's share of `page`: worked out now where the projection can (`prepare`, no
        database needed), else a call that applies it in the transaction."""
        prepared: list[_Prepared] = []
        decoded: Decoded = {}
        for name, projection in self.bound.items():
            types = self._types[name]
            events = page if types is None or types == self.types else [e for e in page if e.type in types]
            if not events:
                continue
            prepare = getattr(projection, "prepare", None)
            if prepare is None:
                prepared.append((name, events[0].position - 1, partial(apply_events, projection, events=events)))
                continue
            started = time.perf_counter()
            try:
                prepared.append((name, events[0].position - 1, prepare(dialect, events, decoded)))
            except Exception as error:
                raise ProjectionFailed(name, events[0].position - 1) from error
            finally:
                self.applying_s[name] += time.perf_counter() - started
        if page:
            self.position = page[-1].position
            self.events += len(page)
        return prepared

    def write(self, tx: Transaction, prepared: list[_Prepared]) -> None:
        for name, after, write in prepared:
            started = time.perf_counter()
            try:
                write(tx)
            except Exception as error:
                raise ProjectionFailed(name, after) from error
            finally:
                self.applying_s[name] += time.perf_counter() - started

    def apply(self, tx: Transaction, page: Sequence[RecordedEvent]) -> None:
        self.write(tx, self.prepare(tx.connection.dialect.name, page))

    def end(self, tx: Transaction) -> None:
        """The end of the log: what a projection held back for it (`ReplayingProjection`)."""
        for name, projection in self.bound.items():
            end_replay = getattr(projection, "end_replay", None)
            if end_replay is not None:
                started = time.perf_counter()
                end_replay(tx)
                self.applying_s[name] += time.perf_counter() - started
