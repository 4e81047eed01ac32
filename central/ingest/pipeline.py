"""The ingest pipeline: check, then commit, then ack, then PUBACK, in two overlapping stages.

- The network thread only enqueues (`submit`) into a bounded inbox (`inbox.py`), never waiting; it
  reads from the broker only while the inbox has room (`has_room`), the backpressure that keeps a
  flood at the broker.
- The check stage takes whatever has arrived (up to `max_batch`), looks the batch's radars up (one
  query for their versions, `radars.lookup.radar_cache`) and classifies each message (`classify.py`:
  decoding, signature, the decision): CPU work, done while the previous batch commits.
- The commit stage takes every checked batch waiting and writes it in ONE transaction (`writer.py`).
  Only after the commit does it publish the acks and then release the PUBACKs. At low load a batch
  is one message and nothing waits for company; under load batches grow by themselves (group commit).

Both stages retry while the database is busy or unreachable. A crash before the commit leaves every
message unacknowledged at the broker, which sends them again; a crash after it makes the re-sent
messages come back as `duplicate` (and refused ones only bump the quarantine row's `occurrences`).
Nothing is lost and nothing is recorded twice.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Protocol, TypeVar

from sqlalchemy import exc

from speedledger.central.eventstore.port import EventStore
from speedledger.central.ingest import tables
from speedledger.central.ingest.checks import RadarLookup, RadarLookups
from speedledger.central.ingest.classify import Checked, classify
from speedledger.central.ingest.inbox import Inbox
from speedledger.central.ingest.metrics import BATCH_SIZE, COMMIT_SECONDS, MESSAGES
from speedledger.central.ingest.mqtt import Delivery, Received
from speedledger.central.ingest.parse import Rejected, topic_parts
from speedledger.central.ingest.reasons import Reason
from speedledger.central.ingest.settings import IngestLimits
from speedledger.central.ingest.writer import BatchWriter, Recording, Written, named_event_id
from speedledger.central.radars.lookup import RadarState
from speedledger.shared import topics, violation

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Smallest batch worth spreading over the verify threads (below, a thread hop costs more than it saves).
PARALLEL_FROM = 8


class Transport(Protocol):
    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None: ...

    def confirm(self, deliveries: Iterable[Delivery]) -> None: ...


class Pipeline:
    def __init__(
        self,
        store: EventStore,
        radars: RadarLookups,
        transport: Transport,
        recording: Recording,
        limits: IngestLimits | None = None,
    ) -> None:
        self._store = store
        self._radars = radars
        self._transport = transport
        self._writer = BatchWriter(store, recording)
        self._limits = limits or IngestLimits()
        self.inbox = Inbox(self._limits.inbox_messages, self._limits.inbox_bytes)
        self._checked: queue.Queue[list[Checked] | None] = queue.Queue(maxsize=4)
        self._threads: list[threading.Thread] = []
        self._verifiers: ThreadPoolExecutor | None = None
        dbapi = store.engine.dialect.loaded_dbapi
        self._transient_errors: tuple[type[Exception], ...] = (exc.OperationalError, dbapi.OperationalError)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        tables.create_tables(self._store.engine)
        if self._limits.verify_threads > 1:
            self._verifiers = ThreadPoolExecutor(self._limits.verify_threads, thread_name_prefix="ingest-verify")
        self._threads = [
            threading.Thread(target=self._check_loop, name="ingest-check", daemon=True),
            threading.Thread(target=self._commit_loop, name="ingest-commit", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, received: Received) -> None:
        """Called from the MQTT network thread; never waits."""
        self.inbox.put(received)

    def has_room(self, timeout_s: float) -> bool:
        """Whether the network thread may read more, waiting at most `timeout_s` for room in the inbox."""
        return self.inbox.wait_for_room(timeout_s)

    def stop(self, timeout_s: float = 10) -> None:
        """Finish what was received, then stop (unfinished messages stay unacked at the broker)."""
        self.inbox.close()
        for thread in self._threads:
            thread.join(timeout_s)
        if self._verifiers is not None:
            self._verifiers.shutdown()
            self._verifiers = None

    # -- stage 1: check -------------------------------------------------------------------------

    def _check_loop(self) -> None:
        while True:
            batch = self.inbox.take(self._limits.max_batch)
            received = [item for item in batch if item is not None]
            if received:
                self._checked.put(self._check_retrying(received))
            if len(received) < len(batch):
                self._checked.put(None)
                return

    def _check_retrying(self, batch: Sequence[Received]) -> list[Checked]:
        """Radar lookups need the database: while it is unavailable, wait and try again."""
        delay = 0.05
        while True:
            try:
                return self.check(batch)
            except Exception:
                log.warning("ingest check failed (radar lookup); retrying in %.2f s", delay, exc_info=True)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def check(self, batch: Sequence[Received]) -> list[Checked]:
        """Decide everything that needs no database write; the batch's radars are looked up at once
        (one query for their streams' versions; a radar is read again only when it changed)."""
        radar_ids = {topic_parts(received.topic)[0] for received in batch if received.topic.startswith(topics.ROOT)}
        lookup = self._radars({radar_id for radar_id in radar_ids if violation.is_radar_id(radar_id)})
        cache: dict[str, RadarState | None] = {}

        def radar(radar_id: str) -> RadarState | None:
            if radar_id not in cache:
                cache[radar_id] = self._lookup(lookup, radar_id)
            return cache[radar_id]

        # Look radars up first (a database error surfaces here, for the whole batch, and is retried);
        # the per-message checks below then only read the cache, in parallel or not.
        for radar_id in radar_ids:
            radar(radar_id)
        if self._verifiers is not None and len(batch) >= PARALLEL_FROM:
            # Ed25519 verification releases the GIL: a large batch is checked on several cores.
            return list(self._verifiers.map(lambda received: classify(received, radar, self._limits), batch))
        return [classify(received, radar, self._limits) for received in batch]

    def _lookup(self, lookup: RadarLookup, radar_id: str) -> RadarState | None:
        """The registered radar; database errors propagate (the batch is retried), anything else
        about one radar's history makes only that radar count as unknown (its messages are refused)."""
        if not violation.is_radar_id(radar_id):
            return None
        try:
            return lookup(radar_id)
        except self._transient_errors:
            raise
        except Exception:
            log.exception("cannot load radar %s; its messages are refused as unknown_radar", radar_id)
            return None

    # -- stage 2: commit ------------------------------------------------------------------------

    def _commit_loop(self) -> None:
        while True:
            batches = _take(self._checked, 64)
            checked = [item for batch in batches if batch is not None for item in batch]
            if checked:
                self.commit(checked)
            if any(batch is None for batch in batches):
                return

    def commit(self, batch: Sequence[Checked]) -> None:
        """Write the batch in one transaction, then ack, then PUBACK.

        A database that is busy or unreachable is waited for (retry with backoff; nothing is acked
        meanwhile). Any other failure is narrowed down: the batch is committed message by message, and
        a message that cannot be stored even alone is quarantined with the error's type instead.
        """
        decided = self._write_retrying(batch)
        if decided is None:
            return
        BATCH_SIZE.observe(len(batch))
        for topic, payload in decided.acks:
            self._transport.publish(topic, payload)
        self._transport.confirm(item.received.delivery for item in batch)
        for labels in decided.counts:
            MESSAGES.labels(*labels).inc()

    def _write_retrying(self, batch: Sequence[Checked]) -> Written | None:
        delay = 0.05
        while True:
            try:
                with COMMIT_SECONDS.time():
                    return self._writer.write(batch)
            except self._transient_errors:
                log.warning("ingest commit failed (database busy or gone); retrying in %.2f s", delay, exc_info=True)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            except Exception as error:
                if len(batch) > 1:
                    log.exception("a batch of %d messages failed to commit; committing them one by one", len(batch))
                    for item in batch:
                        self.commit([item])
                    return None
                [item] = batch
                if isinstance(item.outcome, Rejected) and item.outcome.reason is Reason.UNSTORABLE:
                    log.exception("message on %s cannot even be quarantined; left unacked", item.received.topic)
                    return None
                log.exception("message on %s cannot be stored; quarantining it", item.received.topic)
                event_id = named_event_id(item)
                reason = Rejected(Reason.UNSTORABLE, f"storing failed with {type(error).__name__}", event_id)
                batch = [replace(item, outcome=reason)]


def _take(source: queue.Queue[T], limit: int) -> list[T]:
    """Block for one item, then take whatever else is already waiting, up to `limit`."""
    items = [source.get()]
    while len(items) < limit:
        try:
            items.append(source.get_nowait())
        except queue.Empty:
            break
    return items
