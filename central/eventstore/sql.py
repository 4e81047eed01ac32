"""The SQL event store shared by both adapters; dialect differences live in sqlite.py and postgres.py.

Schema, reads and read-model transactions go through SQLAlchemy Core. The append path runs a few
fixed statements on the DBAPI cursor of a pooled connection (or of an open `transaction()`): that
skips Core's per-statement machinery, which costs more than the statements themselves
(bench/store_bench.py measures both sides).
"""

from __future__ import annotations

import json
import json.scanner
import logging
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.engine.interfaces import DBAPICursor

from speedledger.central.eventstore.port import (
    ANY_VERSION,
    NO_STREAM,
    AppendOutcome,
    AppendPlan,
    AppendRequest,
    NewEvent,
    RecordedEvent,
    decide_appends,
)
from speedledger.central.eventstore.schema import events, metadata

log = logging.getLogger(__name__)

#: Execution option that marks a transaction as a writer (SQLite: BEGIN IMMEDIATE).
WRITER_OPTION = "speedledger_writer"

_SELECTED_COLUMNS = "position, stream_id, version, event_id, type, data, metadata, recorded_at_ms"
#: Plain SQL: asked on every runner round and config look, where SQLAlchemy's statement path cost more than it.
_LAST_POSITION = f"SELECT coalesce(max(position), 0) FROM {events.name}"

#: Rows per multi-row INSERT and ids per IN list at most (a power of two, see `_row_chunks`): well
#: under SQLite's and PostgreSQL's parameter limits.
_CHUNK = 256
T = TypeVar("T")
_INSERTED_COLUMNS = ("stream_id", "version", "event_id", "type", "data", "metadata", "recorded_at_ms")

_STREAM_ID_MAX = events.c.stream_id.type.length or 255  # type: ignore[attr-defined]
_EVENT_ID_MAX = events.c.event_id.type.length or 64  # type: ignore[attr-defined]
_TYPE_MAX = events.c.type.type.length or 255  # type: ignore[attr-defined]


def _validate(stream_id: str, new_events: Sequence[NewEvent], expected_version: int) -> None:
    """Refuse what one database would store and the other reject, with the same error on both."""
    if expected_version < ANY_VERSION:
        raise ValueError(f"expected_version must be >= {ANY_VERSION}, got {expected_version}")
    if not 0 < len(stream_id) <= _STREAM_ID_MAX:
        raise ValueError(f"stream_id must have 1 to {_STREAM_ID_MAX} characters: {stream_id!r}")
    for event in new_events:
        if not 0 < len(event.event_id) <= _EVENT_ID_MAX or len(event.type) > _TYPE_MAX:
            raise ValueError(f"event_id (1 to {_EVENT_ID_MAX}) or type (up to {_TYPE_MAX}) too long: {event!r}")


# A connection keeps each distinct statement text it ran prepared (pysqlite: the last 128 per
# connection, in SQLite's own heap; psycopg: those run often, at the server), and a multi-row INSERT of
# n rows or an IN list of n ids is a new text for each n. Cut to any size, a fleet's backlog (batches
# of every size up to the chunk) filled each SQLite connection's cache with statements of up to 3,500
# parameters, about 20 MiB per connection (docs/scaling.md, "Backlog"). Cut to powers of two, each
# statement has at most 9 shapes, whatever the traffic.


def _row_chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """`items` in pieces whose sizes are powers of two up to `_CHUNK`, largest first (27: 16, 8, 2, 1)."""
    start = 0
    while start < len(items):
        size = min(_CHUNK, 1 << (len(items) - start).bit_length() - 1)
        yield items[start : start + size]
        start += size


def in_list(items: Sequence[T]) -> list[T]:
    """`items` (not empty) padded to a power-of-two length with the last one again: the values of an
    IN list, where a repeated value changes nothing, in few shapes (see above)."""
    return [*items, *[items[-1]] * ((1 << (len(items) - 1).bit_length()) - len(items))]


def _in_chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """`items` in IN lists of at most `_CHUNK` (`in_list`), one statement each."""
    for start in range(0, len(items), _CHUNK):
        yield in_list(items[start : start + _CHUNK])


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _dumps(value: Any) -> str:
    return _ENCODE(value) if value else "{}"


#: The C scanner `json.loads` ends in (typeshed types its argument oddly).
_SCAN: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def _loads(text: str) -> Any:
    """`json.loads` without its wrapper, whose two regex matches for surrounding whitespace cost as much
    as decoding an event's data: the store writes compact JSON (`_dumps`); anything else (whitespace
    around it, trailing data) goes to `json.loads`, which decodes it or raises as usual."""
    try:
        value, end = _SCAN(text, 0)
    except StopIteration:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def _recorded(row: Sequence[Any]) -> RecordedEvent:
    return RecordedEvent(
        position=row[0],
        stream_id=row[1],
        version=row[2],
        event_id=row[3],
        type=row[4],
        data=_loads(row[5]),
        metadata=_loads(row[6]),
        recorded_at_ms=row[7],
    )


class SqlEventStore:
    """The event store on a SQLAlchemy engine; `engine` is shared with the read models.

    Adapters say how a writer begins (`_begin_append`) and how appends are serialised
    (`_lock_appends`), so that positions become visible in increasing order.
    """

    #: The DBAPI driver's parameter marker.
    _MARK = "?"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = engine.execution_options(**{WRITER_OPTION: True})
        self._integrity_error: type[Exception] = engine.dialect.loaded_dbapi.IntegrityError
        self._listeners: list[Callable[[int], None]] = []
        with self.transaction() as tx:
            tx.lock_schema()
            metadata.create_all(tx.connection)

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[SqlTransaction]:
        """A write transaction on the store's database (SQLite: BEGIN IMMEDIATE), committed on exit.

        Subscribers are woken after the commit for the events appended in it. `durable=False`: see the
        port (`_commit_without_waiting` says how each database does it).
        """
        with self._writer_turn(), self._writer.connect() as conn:
            tx = SqlTransaction(self, conn)
            with self._commit_without_waiting(conn) if not durable else nullcontext(), conn.begin():
                if not durable:
                    self._begun_without_waiting(conn)
                yield tx
        if tx.last_position:
            self._notify(tx.last_position)

    @contextmanager
    def _append_transaction(self) -> Iterator[DBAPICursor]:
        with self._writer_turn():
            raw = self.engine.raw_connection()
            try:
                cursor = raw.cursor()
                self._begin_append(cursor)
                yield cursor
                raw.commit()
            except BaseException:
                raw.rollback()
                raise
            finally:
                raw.close()

    def _lock_schema(self, conn: Connection) -> None:
        """Serialise schema changes (CREATE TABLE ...) with other processes starting at the same time,
        until `conn`'s transaction ends (SQLite: its write transaction already does)."""

    def _writer_turn(self) -> AbstractContextManager[object]:
        """Held around every write transaction of this process (SQLite: a fair queue, see sqlite.py)."""
        return nullcontext()

    @contextmanager
    def _commit_without_waiting(self, conn: Connection) -> Iterator[None]:
        """Around a non-durable transaction, before it begins and after it ends (SQLite: its connection's
        `synchronous`, which cannot change inside a transaction)."""
        yield

    def _begun_without_waiting(self, conn: Connection) -> None:
        """At the start of a non-durable transaction (PostgreSQL: `SET LOCAL synchronous_commit`)."""

    def _begin_append(self, cursor: DBAPICursor) -> None:
        """Open a writer transaction on a raw pooled connection (PostgreSQL: psycopg opens it)."""

    def _lock_appends(self, cursor: DBAPICursor) -> None:
        """Serialise appends for the rest of the transaction (no-op where the begin already does)."""

    # -- append ---------------------------------------------------------------------------------

    def append(self, stream_id: str, events: Sequence[NewEvent], expected_version: int) -> list[RecordedEvent]:
        _validate(stream_id, events, expected_version)
        request = AppendRequest(stream_id, events, expected_version)
        # The hot path (one violation opening its stream) skips the lookups: the unique
        # constraints decide, and on a conflict the lookups below say which it was.
        optimistic = expected_version == NO_STREAM and bool(events)
        try:
            with self._append_transaction() as cursor:
                [outcome] = self._append_requests(cursor, [request], lookups=not optimistic)
        except self._integrity_error:
            if not optimistic:
                raise
            with self._append_transaction() as cursor:
                [outcome] = self._append_requests(cursor, [request], lookups=True)
        if isinstance(outcome, Exception):
            raise outcome
        if outcome:
            self._notify(outcome[-1].position)
        return outcome

    def append_batch(self, requests: Sequence[AppendRequest]) -> list[AppendOutcome]:
        """Group commit: outcomes are decided under the append lock with two lookups for the whole
        batch, then every accepted request is written by multi-row INSERTs, all in one transaction."""
        for request in requests:
            _validate(request.stream_id, request.events, request.expected_version)
        if not requests:
            return []
        with self._append_transaction() as cursor:
            outcomes = self._append_requests(cursor, requests, lookups=True)
        last = max((o[-1].position for o in outcomes if isinstance(o, list) and o), default=0)
        if last:
            self._notify(last)
        return outcomes

    def _append_requests(
        self, cursor: DBAPICursor, requests: Sequence[AppendRequest], lookups: bool
    ) -> list[AppendOutcome]:
        self._lock_appends(cursor)
        versions: dict[str, int] = {}
        known: set[str] = set()
        if lookups:
            versions = self._current_versions(cursor, list({request.stream_id for request in requests}))
            known = self._known_event_ids(cursor, [e.event_id for request in requests for e in request.events])
        outcomes, accepted = decide_appends(requests, versions, known)
        written = self._insert(cursor, [plan for _, plan in accepted])
        for (index, _), recorded in zip(accepted, written, strict=True):
            outcomes[index] = recorded
        return outcomes

    def _current_versions(self, cursor: DBAPICursor, stream_ids: list[str]) -> dict[str, int]:
        versions: dict[str, int] = {}
        for chunk in _in_chunks(stream_ids):
            marks = ",".join([self._MARK] * len(chunk))
            cursor.execute(
                f"SELECT stream_id, max(version) FROM {events.name} WHERE stream_id IN ({marks}) GROUP BY stream_id",
                chunk,
            )
            versions.update((stream_id, version) for stream_id, version in cursor.fetchall())
        return versions

    def _known_event_ids(self, cursor: DBAPICursor, event_ids: list[str]) -> set[str]:
        known: set[str] = set()
        for chunk in _in_chunks(event_ids):
            marks = ",".join([self._MARK] * len(chunk))
            cursor.execute(f"SELECT event_id FROM {events.name} WHERE event_id IN ({marks})", chunk)
            known.update(event_id for (event_id,) in cursor.fetchall())
        return known

    def _insert(self, cursor: DBAPICursor, plans: Sequence[AppendPlan]) -> list[list[RecordedEvent]]:
        """Write the plans with multi-row INSERT ... RETURNING. Appends are serialised, so positions
        are drawn in row order and the sorted returned positions line up with the rows."""
        now_ms = time.time_ns() // 1_000_000
        rows = [
            (
                stream_id,
                current + offset,
                event.event_id,
                event.type,
                _dumps(event.data),
                _dumps(event.metadata),
                now_ms,
            )
            for stream_id, current, new_events in plans
            for offset, event in enumerate(new_events, start=1)
        ]
        row_marks = "(" + ",".join([self._MARK] * len(_INSERTED_COLUMNS)) + ")"
        positions: list[int] = []
        for chunk in _row_chunks(rows):
            cursor.execute(
                f"INSERT INTO {events.name} ({','.join(_INSERTED_COLUMNS)}) VALUES "
                f"{','.join([row_marks] * len(chunk))} RETURNING position",
                [value for row in chunk for value in row],
            )
            positions += sorted(position for (position,) in cursor.fetchall())
        next_position = iter(positions)
        return [
            [
                RecordedEvent(
                    position=next(next_position),
                    stream_id=stream_id,
                    version=current + offset,
                    type=event.type,
                    data=event.data,
                    metadata=event.metadata,
                    event_id=event.event_id,
                    recorded_at_ms=now_ms,
                )
                for offset, event in enumerate(new_events, start=1)
            ]
            for stream_id, current, new_events in plans
        ]

    # -- read -----------------------------------------------------------------------------------

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        return self._select(
            f"WHERE stream_id = {self._MARK} AND version > {self._MARK} ORDER BY version", (stream_id, after_version)
        )

    def stream_versions(self, stream_ids: Sequence[str]) -> dict[str, int]:
        raw = self.engine.raw_connection()
        try:
            versions = self._current_versions(raw.cursor(), list(stream_ids))
            raw.commit()  # end the read transaction psycopg opened
        finally:
            raw.close()
        return versions

    def read_all(
        self, after_position: int = 0, limit: int = 1000, types: Collection[str] | None = None
    ) -> list[RecordedEvent]:
        return self._read_all(after_position, limit, types)

    def _read_all(
        self, after_position: int, limit: int, types: Collection[str] | None, conn: Connection | None = None
    ) -> list[RecordedEvent]:
        """Events after `after_position` in global order, of `types` when given; with `conn`, inside
        its transaction."""
        if types is None:
            return self._select(
                f"WHERE position > {self._MARK} ORDER BY position LIMIT {self._MARK}", (after_position, limit), conn
            )
        if not types:
            return []
        marks = ",".join([self._MARK] * len(types))
        return self._select(
            f"WHERE position > {self._MARK} AND type IN ({marks}) ORDER BY position LIMIT {self._MARK}",
            (after_position, *types, limit),
            conn,
        )

    def _select(self, where: str, params: tuple[Any, ...], conn: Connection | None = None) -> list[RecordedEvent]:
        """The catch-up read path, on the DBAPI cursor (about 1.4x Core's rate for pages of events)."""
        sql = f"SELECT {_SELECTED_COLUMNS} FROM {events.name} {where}"
        if conn is not None:
            cursor = conn.connection.cursor()
            cursor.execute(sql, params)
            return [_recorded(row) for row in cursor.fetchall()]
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            raw.commit()  # end the read transaction psycopg opened
        finally:
            raw.close()
        return [_recorded(row) for row in rows]

    def last_position(self) -> int:
        with self.engine.connect() as conn:
            position: int = conn.exec_driver_sql(_LAST_POSITION).scalar_one()
            return position

    # -- wake-ups -------------------------------------------------------------------------------

    def on_append(self, listener: Callable[[int], None]) -> Callable[[], None]:
        """Call `listener(last_position)` after each committed append in this process; returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _notify(self, position: int) -> None:
        for listener in list(self._listeners):
            try:
                listener(position)
            except Exception:
                log.exception("append listener %r failed", listener)

    def close(self) -> None:
        self.engine.dispose()


class SqlTransaction:
    """The port's `Transaction` on one connection of the store's database; see `SqlEventStore.transaction`."""

    def __init__(self, store: SqlEventStore, connection: Connection) -> None:
        self._store = store
        self.connection = connection
        #: Position of the last event appended here (0: none), to wake subscribers after the commit.
        self.last_position = 0

    def append(self, stream_id: str, new_events: Sequence[NewEvent], expected_version: int) -> list[RecordedEvent]:
        _validate(stream_id, new_events, expected_version)
        cursor = self.connection.connection.cursor()
        request = AppendRequest(stream_id, new_events, expected_version)
        [outcome] = self._store._append_requests(cursor, [request], lookups=True)
        if isinstance(outcome, Exception):
            raise outcome
        if outcome:
            self.last_position = outcome[-1].position
        return outcome

    def append_batch(self, requests: Sequence[AppendRequest]) -> list[AppendOutcome]:
        for request in requests:
            _validate(request.stream_id, request.events, request.expected_version)
        if not requests:
            return []
        cursor = self.connection.connection.cursor()
        outcomes = self._store._append_requests(cursor, requests, lookups=True)
        self.last_position = max([self.last_position, *(o[-1].position for o in outcomes if isinstance(o, list) and o)])
        return outcomes

    def read_all(
        self, after_position: int = 0, limit: int = 1000, types: Collection[str] | None = None
    ) -> list[RecordedEvent]:
        return self._store._read_all(after_position, limit, types, self.connection)

    def lock_schema(self) -> None:
        self._store._lock_schema(self.connection)
