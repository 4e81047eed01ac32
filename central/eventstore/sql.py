"""The SQL event store shared by both adapters; dialect differences live in sqlite.py and postgres.py."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, exc, func, insert, select

from speedledger.central.eventstore.port import (
    ANY_VERSION,
    AppendOutcome,
    AppendRequest,
    DuplicateEvent,
    NewEvent,
    RecordedEvent,
    WrongExpectedVersion,
)
from speedledger.central.eventstore.schema import events, metadata

log = logging.getLogger(__name__)

#: Execution option that marks a transaction as a writer (SQLite: BEGIN IMMEDIATE).
WRITER_OPTION = "speedledger_writer"
#: `Connection.info` key set by `append_in`: the last position appended in the open transaction.
APPENDED_INFO = "speedledger_appended"

_SELECT_EVENTS = select(
    events.c.position,
    events.c.stream_id,
    events.c.version,
    events.c.event_id,
    events.c.type,
    events.c.data,
    events.c.metadata,
    events.c.recorded_at_ms,
)
_CURRENT_VERSION = select(func.coalesce(func.max(events.c.version), 0)).where(
    events.c.stream_id == bindparam("stream_id")
)
_INSERT = insert(events).returning(events.c.position, sort_by_parameter_order=True)
_READ_ALL = (
    _SELECT_EVENTS.where(events.c.position > bindparam("after")).order_by(events.c.position).limit(bindparam("limit"))
)
_READ_STREAM = _SELECT_EVENTS.where(
    events.c.stream_id == bindparam("stream_id"), events.c.version > bindparam("after")
).order_by(events.c.version)
_LAST_POSITION = select(func.coalesce(func.max(events.c.position), 0))


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _recorded(row: Sequence[Any]) -> RecordedEvent:
    return RecordedEvent(
        position=row[0],
        stream_id=row[1],
        version=row[2],
        event_id=row[3],
        type=row[4],
        data=json.loads(row[5]),
        metadata=json.loads(row[6]),
        recorded_at_ms=row[7],
    )


class SqlEventStore:
    """The event store on a SQLAlchemy engine; `engine` is shared with the read models.

    Subclasses serialise writers (`_lock_appends`) so that positions become visible in order.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = engine.execution_options(**{WRITER_OPTION: True})
        self._listeners: list[Callable[[int], None]] = []
        metadata.create_all(self._writer)

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction on the store's database (SQLite: BEGIN IMMEDIATE), committed on exit.

        Subscribers are woken after the commit for events that `append_in` wrote in it.
        """
        committed = False
        with self._writer.connect() as conn:
            try:
                with conn.begin():
                    yield conn
                committed = True
            finally:
                appended = conn.info.pop(APPENDED_INFO, None)
        if committed and appended is not None:
            self._notify(appended)

    def _lock_appends(self, conn: Connection) -> None:
        """Serialise appends for the rest of `conn`'s transaction (no-op where the begin already does)."""

    # -- append ---------------------------------------------------------------------------------

    def append(self, stream_id: str, events: Sequence[NewEvent], expected_version: int) -> list[RecordedEvent]:
        try:
            with self.transaction() as conn:
                recorded = self._append_in(conn, stream_id, events, expected_version)
        except exc.IntegrityError:
            # Versions were checked under the append lock, so only an event_id can have collided.
            with self.engine.connect() as conn:
                raise self._duplicate(conn, events) from None
        if recorded:
            self._notify(recorded[-1].position)
        return recorded

    def append_batch(self, requests: Sequence[AppendRequest]) -> list[AppendOutcome]:
        outcomes: list[AppendOutcome] = []
        with self.transaction() as conn:
            for request in requests:
                savepoint = conn.begin_nested()
                try:
                    outcome: AppendOutcome = self._append_in(
                        conn, request.stream_id, request.events, request.expected_version
                    )
                except (WrongExpectedVersion, DuplicateEvent) as error:
                    savepoint.rollback()
                    outcome = error
                except exc.IntegrityError:
                    savepoint.rollback()
                    outcome = self._duplicate(conn, request.events)
                else:
                    savepoint.commit()
                outcomes.append(outcome)
        last = max((o[-1].position for o in outcomes if isinstance(o, list) and o), default=0)
        if last:
            self._notify(last)
        return outcomes

    def append_in(
        self, conn: Connection, stream_id: str, new_events: Sequence[NewEvent], expected_version: int
    ) -> list[RecordedEvent]:
        """Append inside the caller's write transaction (e.g. a process manager's batch).

        Same errors as `append`, and a failed append leaves the caller's transaction usable. The
        events commit with the caller's transaction; when that is a `transaction()`, in-process
        subscribers are woken after its commit, otherwise at their next poll.
        """
        savepoint = conn.begin_nested()
        try:
            recorded = self._append_in(conn, stream_id, new_events, expected_version)
        except (WrongExpectedVersion, DuplicateEvent):
            savepoint.rollback()
            raise
        except exc.IntegrityError:
            savepoint.rollback()
            raise self._duplicate(conn, new_events) from None
        savepoint.commit()
        if recorded:
            conn.info[APPENDED_INFO] = recorded[-1].position
        return recorded

    def _append_in(
        self, conn: Connection, stream_id: str, new_events: Sequence[NewEvent], expected_version: int
    ) -> list[RecordedEvent]:
        if expected_version < ANY_VERSION:
            raise ValueError(f"expected_version must be >= {ANY_VERSION}, got {expected_version}")
        self._lock_appends(conn)
        current: int = conn.execute(_CURRENT_VERSION, {"stream_id": stream_id}).scalar_one()
        if expected_version not in (ANY_VERSION, current):
            known = self._known_event_id(conn, new_events)
            if known is not None:
                raise DuplicateEvent(known)
            raise WrongExpectedVersion(stream_id, expected_version, current)
        if not new_events:
            return []
        now_ms = time.time_ns() // 1_000_000
        rows = [
            {
                "stream_id": stream_id,
                "version": current + offset,
                "event_id": event.event_id,
                "type": event.type,
                "data": _dumps(event.data),
                "metadata": _dumps(event.metadata),
                "recorded_at_ms": now_ms,
            }
            for offset, event in enumerate(new_events, start=1)
        ]
        positions = conn.execute(_INSERT, rows).scalars().all()
        return [
            RecordedEvent(
                position=position,
                stream_id=stream_id,
                version=current + offset,
                type=event.type,
                data=event.data,
                metadata=event.metadata,
                event_id=event.event_id,
                recorded_at_ms=now_ms,
            )
            for offset, (position, event) in enumerate(zip(positions, new_events, strict=True), start=1)
        ]

    @staticmethod
    def _known_event_id(conn: Connection, new_events: Sequence[NewEvent]) -> str | None:
        if not new_events:
            return None
        ids = [event.event_id for event in new_events]
        known: str | None = conn.execute(
            select(events.c.event_id).where(events.c.event_id.in_(ids)).limit(1)
        ).scalar_one_or_none()
        return known

    def _duplicate(self, conn: Connection, new_events: Sequence[NewEvent]) -> DuplicateEvent:
        known = self._known_event_id(conn, new_events)
        if known is not None:
            return DuplicateEvent(known)
        seen: set[str] = set()
        for event in new_events:  # the same event_id twice within one append
            if event.event_id in seen:
                return DuplicateEvent(event.event_id)
            seen.add(event.event_id)
        raise RuntimeError("integrity error on append that is neither a version nor an event_id conflict")

    # -- read -----------------------------------------------------------------------------------

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        with self.engine.connect() as conn:
            rows = conn.execute(_READ_STREAM, {"stream_id": stream_id, "after": after_version})
            return [_recorded(row) for row in rows]

    def read_all(
        self, after_position: int = 0, limit: int = 1000, *, conn: Connection | None = None
    ) -> list[RecordedEvent]:
        """Events after `after_position` in global order; pass `conn` to read inside a transaction."""
        if conn is not None:
            return [_recorded(row) for row in conn.execute(_READ_ALL, {"after": after_position, "limit": limit})]
        with self.engine.connect() as own:
            return self.read_all(after_position, limit, conn=own)

    def last_position(self) -> int:
        with self.engine.connect() as conn:
            position: int = conn.execute(_LAST_POSITION).scalar_one()
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
