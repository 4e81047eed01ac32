"""A small projection for the store tests: per-stream event counts plus a row per applied event.

A double-applied event shows as a count above the stream's length (and a duplicate key); a skipped
one as a missing position. `poison` makes apply raise on one event type; `delay_s` slows each apply
so a test can kill the process mid-batch.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from sqlalchemy import BigInteger, Column, Connection, Index, Integer, MetaData, String, Table, insert, select, update

from speedledger.central.eventstore.port import RecordedEvent, Transaction

_metadata = MetaData()
APPLIED = Table(
    "tally_applied",
    _metadata,
    Column("position", BigInteger, primary_key=True),
    Column("stream_id", String(255), nullable=False),
    Column("type", String(255), nullable=False),
    Index("ix_tally_applied_stream", "stream_id"),
)
TOTALS = Table(
    "tally_totals",
    _metadata,
    Column("stream_id", String(255), primary_key=True),
    Column("events", Integer, nullable=False),
    Index("ix_tally_totals_events", "events"),
)


class Poisoned(Exception):
    pass


class Tally:
    name = "tally"

    def __init__(
        self, applied: Table = APPLIED, totals: Table = TOTALS, *, poison: str | None = None, delay_s: float = 0.0
    ) -> None:
        self.applied = applied
        self.totals = totals
        self.poison = poison
        self.delay_s = delay_s

    @property
    def tables(self) -> Sequence[Table]:
        return (self.applied, self.totals)

    def bind(self, tables: Mapping[str, Table]) -> Tally:
        return Tally(tables[APPLIED.name], tables[TOTALS.name], poison=self.poison, delay_s=self.delay_s)

    def apply(self, tx: Transaction, event: RecordedEvent) -> None:
        conn = tx.connection
        if self.delay_s:
            time.sleep(self.delay_s)
        conn.execute(insert(self.applied).values(position=event.position, stream_id=event.stream_id, type=event.type))
        if event.type == self.poison:
            raise Poisoned(f"poisoned event at position {event.position}")
        bumped = conn.execute(
            update(self.totals)
            .where(self.totals.c.stream_id == event.stream_id)
            .values(events=self.totals.c.events + 1)
        )
        if bumped.rowcount == 0:
            conn.execute(insert(self.totals).values(stream_id=event.stream_id, events=1))


def totals(conn: Connection) -> dict[str, int]:
    return {stream: count for stream, count in conn.execute(select(TOTALS.c.stream_id, TOTALS.c.events))}


def applied_positions(conn: Connection) -> list[int]:
    return list(conn.execute(select(APPLIED.c.position).order_by(APPLIED.c.position)).scalars())
