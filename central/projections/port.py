"""What a projection (read model or process manager) offers the catch-up runner.

The runner reads the global log after the projection's checkpoint and calls `apply` for each event
inside one store transaction (the port's unit of work) that also stores the new checkpoint, so a crash never applies an
event twice or skips one. Rebuild asks the projection for a copy bound to fresh shadow tables,
replays from position 0 into them and swaps them in, while the live tables keep serving reads.

Optional members a rebuild uses when a projection has them (read with `getattr`, so a projection
without them is replayed as it is run live): `event_types` (the stored types it reads: a rebuild
reads and decodes only those), `writes_only` (its handlers never read its own tables: a rebuild
builds their secondary indexes after the replay instead of row by row), `prepare` (see
`PreparingProjection`) and `end_replay` (see `ReplayingProjection`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from sqlalchemy import Table

from speedledger.central.eventstore.port import RecordedEvent, Transaction
from speedledger.central.messages import Event

#: A rebuild batch's events decoded so far, by log position: shared by the projections that read them,
#: so each event is decoded once (see `EventTypes.decode_once`).
Decoded = dict[int, Event]


class Projection(Protocol):
    #: Checkpoint key; stable across releases.
    name: str

    @property
    def tables(self) -> Sequence[Table]:
        """The tables this projection owns (created by the runner when missing)."""
        ...

    def bind(self, tables: Mapping[str, Table]) -> Projection:
        """The same projection writing to `tables`, keyed by the live table names (used by rebuild)."""
        ...

    def apply(self, tx: Transaction, event: RecordedEvent) -> None:
        """Apply one event inside the runner's transaction: rows on `tx.connection`, new events with
        `tx.append` (a process manager); must not commit."""
        ...


class BatchProjection(Projection, Protocol):
    """A projection that takes a runner batch at once (a process manager deciding every event before
    it appends, so it holds the store's append lock only for the appends)."""

    def apply_batch(self, tx: Transaction, events: Sequence[RecordedEvent]) -> None:
        """Apply `events` in order, as `apply` would one by one."""
        ...


class PreparingProjection(Projection, Protocol):
    """A projection that can work out a batch's writes without the database: a rebuild does that
    outside the write lock and holds the lock only while the writes run."""

    def prepare(
        self, dialect: str, events: Sequence[RecordedEvent], decoded: Decoded | None = None
    ) -> Callable[[Transaction], None]:
        """What applying `events` writes, for a database of `dialect` ("sqlite", "postgresql"); the call
        runs it inside a transaction. `decoded` holds the events other projections of the rebuild decoded
        (and takes those this one decodes)."""
        ...


class ReplayingProjection(Projection, Protocol):
    """A projection whose rebuild copy (`bind`) holds back work until the whole log is replayed: the
    infraction process manager decides only the violations that no decision in the log answers."""

    def end_replay(self, tx: Transaction) -> None:
        """Called once after the replay, in the transaction that swaps the rebuilt tables in."""
        ...


def handled_types(projection: Projection) -> frozenset[str] | None:
    """The stored event types `projection` reads (its `event_types`), None when it reads every event."""
    event_types = getattr(projection, "event_types", None)
    return None if event_types is None else frozenset(event_types.names)


def writes_only(projection: Projection) -> bool:
    """True when `projection`'s handlers never read its own tables (a `TableProjection`'s `Writes`)."""
    return bool(getattr(projection, "writes_only", False))


def apply_events(projection: Projection, tx: Transaction, events: Sequence[RecordedEvent]) -> None:
    """Feed `events` to `projection`: as one batch when it takes batches, else one by one."""
    apply_batch = getattr(projection, "apply_batch", None)  # isinstance on a Protocol costs more than a batch
    if apply_batch is not None:
        apply_batch(tx, events)
        return
    for event in events:
        projection.apply(tx, event)
