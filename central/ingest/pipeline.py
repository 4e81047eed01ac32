"""The ingest pipeline: check, then commit, then ack, then PUBACK, in two overlapping stages.

- The network thread only enqueues (`submit`), so it never waits on the database.
- The check stage takes whatever has arrived (up to `max_batch`), decodes, looks radars up (once
  per radar per batch) and verifies signatures: CPU work, done while the previous batch commits.
- The commit stage takes every checked batch waiting and writes it in ONE transaction: each verified
  violation appended as `ViolationRecorded` (NO_STREAM on `violation-{radar_id}-{seq}`, store
  event_id = message event_id), each refusal into the quarantine, evidence and liveness rows. Only
  after the commit does it publish the acks and then release the PUBACKs. At low load a batch is one
  message and nothing waits for company; under load batches grow by themselves (group commit).

A crash before the commit leaves every message unacknowledged at the broker, which sends them
again; a crash after it makes the re-sent messages come back as `duplicate` (and refused ones only
bump the quarantine row's `occurrences`). Nothing is lost and nothing is recorded twice.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, case, exc, select

from speedledger.central.eventstore.port import (
    NO_STREAM,
    DuplicateEvent,
    EventStore,
    NewEvent,
    Transaction,
    WrongExpectedVersion,
)
from speedledger.central.ingest import tables
from speedledger.central.ingest.checks import RadarLookup, Verified, check_violation
from speedledger.central.ingest.metrics import BATCH_SIZE, COMMIT_SECONDS, MESSAGES
from speedledger.central.ingest.mqtt import Delivery, Received
from speedledger.central.ingest.parse import Rejected, decode_json_object, topic_parts
from speedledger.central.ingest.reasons import Reason
from speedledger.central.ingest.sql import upsert
from speedledger.central.radars.lookup import RadarState
from speedledger.shared import canonical, topics, violation

log = logging.getLogger(__name__)
T = TypeVar("T")

JPEG_MAGIC = b"\xff\xd8\xff"
#: First topic segment after the radar id -> kind of message (metrics label, ack or not).
_KINDS = {"violations": "violation", "evidence": "evidence", "status": "status"}
#: Smallest batch worth spreading over the verify threads (below, a thread hop costs more than it saves).
PARALLEL_FROM = 8


class Transport(Protocol):
    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None: ...

    def confirm(self, deliveries: Iterable[Delivery]) -> None: ...


#: Builds the (stream_id, event) that records a verified violation.
RecordBuilder = Callable[[dict[str, Any], int], tuple[str, NewEvent]]


@dataclass(frozen=True)
class IngestLimits:
    max_skew_ms: int = 5 * 60 * 1000
    max_evidence_bytes: int = 4 * 1024 * 1024
    max_batch: int = 256
    #: Threads checking a large batch in parallel (signature verification runs outside the GIL).
    verify_threads: int = min(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class EvidenceImage:
    event_id: str
    sha256: str
    content: bytes


@dataclass(frozen=True)
class Status:
    kind: str  # "radar" or "central"
    node_id: str
    online: bool
    at_ms: int | None
    firmware: str | None


@dataclass(frozen=True)
class Checked:
    received: Received
    kind: str  # "violation", "evidence", "status"
    radar_id: str | None  # from the topic
    outcome: Verified | Rejected | EvidenceImage | Status | None  # None: nothing to do (cleared retained)
    #: The topic's radar is registered: only then does a message count as the radar being seen.
    registered: bool = False


@dataclass
class _Commit:
    """What one transaction decided: acks to publish after it, and metrics to count."""

    acks: list[tuple[str, bytes]] = field(default_factory=list)
    counts: list[tuple[str, str, str]] = field(default_factory=list)


def ack_payload(event_id: str, seq: int | None, result: str, reason: str = "", **extra: str) -> bytes:
    """The ack JSON (CONTRACT section 2), canonical so the device can parse it with anything."""
    body: dict[str, Any] = {"event_id": event_id, "result": result, "reason": reason, **extra}
    if seq is not None:
        body["seq"] = seq
    return canonical.dumps(body)


class Pipeline:
    def __init__(
        self,
        store: EventStore,
        radars: RadarLookup,
        transport: Transport,
        record: RecordBuilder,
        limits: IngestLimits | None = None,
    ) -> None:
        self._store = store
        self._radars = radars
        self._transport = transport
        self._record = record
        self._limits = limits or IngestLimits()
        self._inbox: queue.Queue[Received | None] = queue.Queue()
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
        """Called from the MQTT network thread; never blocks."""
        self._inbox.put(received)

    def stop(self, timeout_s: float = 10) -> None:
        """Finish what was received, then stop (unfinished messages stay unacked at the broker)."""
        self._inbox.put(None)
        for thread in self._threads:
            thread.join(timeout_s)
        if self._verifiers is not None:
            self._verifiers.shutdown()
            self._verifiers = None

    # -- stage 1: check -------------------------------------------------------------------------

    def _check_loop(self) -> None:
        while True:
            batch = _take(self._inbox, self._limits.max_batch)
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
        """Decide everything that needs no database write; radars are looked up once per batch."""
        cache: dict[str, RadarState | None] = {}

        def radar(radar_id: str) -> RadarState | None:
            if radar_id not in cache:
                cache[radar_id] = self._lookup(radar_id)
            return cache[radar_id]

        # Look radars up first (a database error surfaces here, for the whole batch, and is retried);
        # the per-message checks below then only read the cache, in parallel or not.
        for received in batch:
            if received.topic.startswith(topics.ROOT):
                radar(topic_parts(received.topic)[0])
        if self._verifiers is not None and len(batch) >= PARALLEL_FROM:
            # Ed25519 verification releases the GIL: a large batch is checked on several cores.
            checked = list(self._verifiers.map(lambda received: self._check_one(received, radar), batch))
        else:
            checked = [self._check_one(received, radar) for received in batch]
        return [
            replace(item, registered=True)
            if item.radar_id is not None and violation.is_radar_id(item.radar_id) and radar(item.radar_id) is not None
            else item
            for item in checked
        ]

    def _lookup(self, radar_id: str) -> RadarState | None:
        """The registered radar; database errors propagate (the batch is retried), anything else
        about one radar's history makes only that radar count as unknown (its messages are refused)."""
        if not violation.is_radar_id(radar_id):
            return None
        try:
            return self._radars(radar_id)
        except self._transient_errors:
            raise
        except Exception:
            log.exception("cannot load radar %s; its messages are refused as unknown_radar", radar_id)
            return None

    def _check_one(self, received: Received, radar: RadarLookup) -> Checked:
        topic = received.topic
        try:
            node = topics.central_client_id(topic)
            if node is not None:
                return Checked(received, "status", None, self._status("central", node, received))
            radar_id, rest = topic_parts(topic)
        except Rejected as rejected:
            return Checked(received, "status" if topic.startswith(topics.CENTRAL_ROOT) else "unknown", None, rejected)
        try:
            if rest == ["violations"]:
                verified = check_violation(
                    radar_id, received.payload, received.received_at_ms, radar, self._limits.max_skew_ms
                )
                return Checked(received, "violation", radar_id, verified)
            if len(rest) == 2 and rest[0] == "evidence":
                return Checked(received, "evidence", radar_id, self._evidence(radar_id, rest[1], received, radar))
            if rest == ["status"]:
                if radar(radar_id) is None:
                    raise Rejected(Reason.UNKNOWN_RADAR, f"status of unregistered radar {radar_id!r}")
                return Checked(received, "status", radar_id, self._status("radar", radar_id, received))
            raise Rejected(Reason.BAD_TOPIC, "no such topic in the contract")
        except Rejected as rejected:
            return Checked(received, _KINDS.get(rest[0] if rest else "", "unknown"), radar_id, rejected)
        except Exception as error:  # a bug must not stop the consumer: keep the message, say why
            log.exception("unexpected error checking a message on %s", topic)
            return Checked(received, "unknown", radar_id, Rejected(Reason.MALFORMED, f"unexpected: {error!r}"[:200]))

    def _evidence(self, radar_id: str, event_id: str, received: Received, radar: RadarLookup) -> EvidenceImage:
        if not violation.is_event_id(event_id):
            raise Rejected(Reason.BAD_TOPIC, "evidence topic must end in a lowercase UUID event_id")
        size, limit = len(received.payload), self._limits.max_evidence_bytes
        if size > limit:
            raise Rejected(Reason.EVIDENCE_OVERSIZED, f"{size} bytes > {limit}", event_id)
        if not received.payload.startswith(JPEG_MAGIC):
            raise Rejected(Reason.MALFORMED, "evidence is not a JPEG image", event_id)
        if radar(radar_id) is None:
            raise Rejected(Reason.UNKNOWN_RADAR, f"radar {radar_id!r} is not registered", event_id)
        return EvidenceImage(event_id, hashlib.sha256(received.payload).hexdigest(), received.payload)

    @staticmethod
    def _status(kind: str, node_id: str, received: Received) -> Status | None:
        if not received.payload:
            return None  # a retained status being cleared
        body = decode_json_object(received.payload)
        state, at_ms, firmware = body.get("state"), body.get("at_ms"), body.get("firmware")
        if state not in ("online", "offline"):
            raise Rejected(Reason.BAD_STATUS, "state must be online or offline")
        if at_ms is not None and type(at_ms) is not int:
            raise Rejected(Reason.BAD_STATUS, "at_ms must be an integer")
        if firmware is not None and (not isinstance(firmware, str) or len(firmware) > 64):
            raise Rejected(Reason.BAD_STATUS, "firmware must be a string of at most 64 characters")
        return Status(kind, node_id, state == "online", at_ms, firmware)

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

    def _write_retrying(self, batch: Sequence[Checked]) -> _Commit | None:
        delay = 0.05
        while True:
            try:
                with COMMIT_SECONDS.time():
                    return self._write(batch)
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
                event_id = _named_event_id(item)
                reason = Rejected(Reason.UNSTORABLE, f"storing failed with {type(error).__name__}", event_id)
                batch = [replace(item, outcome=reason)]

    def _write(self, batch: Sequence[Checked]) -> _Commit:
        decided = _Commit()
        appended: dict[str, str] = {}  # stream_id -> event_id appended in this transaction
        seen: dict[str, int] = {}  # radar_id -> latest arrival of a live (not retained) message
        with self._store.transaction() as tx:
            conn = tx.connection
            for item in batch:
                outcome = item.outcome
                if isinstance(outcome, Verified):
                    outcome = self._append(tx, item, outcome, appended, decided)
                if isinstance(outcome, Rejected):
                    self._quarantine(conn, item, outcome, decided)
                elif isinstance(outcome, EvidenceImage):
                    self._store_evidence(conn, item, outcome, decided)
                elif isinstance(outcome, Status):
                    _record_status(conn, outcome, item.received)
                    decided.counts.append((item.kind, "stored", ""))
                radar_id = item.radar_id
                if item.registered and radar_id is not None and item.kind != "status" and not item.received.retained:
                    seen[radar_id] = max(seen.get(radar_id, 0), item.received.received_at_ms)
            for radar_id, at_ms in seen.items():
                _seen(conn, radar_id, at_ms)
        return decided

    def _append(
        self, tx: Transaction, item: Checked, verified: Verified, appended: dict[str, str], decided: _Commit
    ) -> Rejected | None:
        message = verified.message
        event_id, seq = message["event_id"], message["seq"]
        stream_id, event = self._record(message, item.received.received_at_ms)
        if verified.revoked_key:
            if self._recorded_event_id(stream_id, appended) == event_id:
                return self._ack(item, decided, event_id, seq, "duplicate", original="accepted")
            return Rejected(Reason.REVOKED_KEY, f"key {message['key_id']} is revoked", event_id, seq)
        try:
            tx.append(stream_id, [event], NO_STREAM)
        except DuplicateEvent:
            if self._recorded_event_id(stream_id, appended) == event_id:
                return self._ack(item, decided, event_id, seq, "duplicate", original="accepted")
            return Rejected(Reason.EVENT_ID_REUSE, "event_id already recorded for another radar or seq", event_id, seq)
        except WrongExpectedVersion:
            return Rejected(Reason.SEQ_REUSE, f"seq {seq} already recorded under another event_id", event_id, seq)
        appended[stream_id] = event_id
        return self._ack(item, decided, event_id, seq, "accepted")

    def _recorded_event_id(self, stream_id: str, appended: dict[str, str]) -> str | None:
        if stream_id in appended:
            return appended[stream_id]
        recorded = self._store.read_stream(stream_id)
        return recorded[0].event_id if recorded else None

    @staticmethod
    def _ack(
        item: Checked, decided: _Commit, event_id: str, seq: int | None, result: str, reason: str = "", **extra: str
    ) -> None:
        if item.radar_id is not None and violation.is_radar_id(item.radar_id) and item.kind == "violation":
            decided.acks.append((topics.acks(item.radar_id), ack_payload(event_id, seq, result, reason, **extra)))
        decided.counts.append((item.kind, result, reason))

    def _quarantine(self, conn: Connection, item: Checked, rejected: Rejected, decided: _Commit) -> None:
        received = item.received
        upsert(
            conn,
            tables.quarantine,
            {
                "received_at_ms": received.received_at_ms,
                "last_received_at_ms": received.received_at_ms,
                "topic": received.topic[:256],
                "radar_id": item.radar_id[:64] if item.radar_id is not None else None,
                "event_id": rejected.event_id,
                "reason": rejected.reason.value,
                "detail": _printable(rejected.detail),
                "payload_sha256": hashlib.sha256(received.payload).hexdigest(),
                "payload_size": len(received.payload),
                "payload": received.payload,
                "occurrences": 1,
            },
            keys=("topic", "payload_sha256", "reason"),
            update={
                "occurrences": tables.quarantine.c.occurrences + 1,
                "last_received_at_ms": received.received_at_ms,
            },
        )
        if rejected.event_id is not None:
            self._ack(item, decided, rejected.event_id, rejected.seq, "rejected", rejected.reason.value)
        else:
            decided.counts.append((item.kind, "rejected", rejected.reason.value))

    def _store_evidence(self, conn: Connection, item: Checked, image: EvidenceImage, decided: _Commit) -> None:
        expected = conn.execute(
            select(tables.evidence_expected.c.image_sha256).where(tables.evidence_expected.c.event_id == image.event_id)
        ).scalar()
        if expected is not None and expected != image.sha256:
            detail = f"image sha256 {image.sha256} but the violation signed {expected or 'no image'}"
            self._quarantine(conn, item, Rejected(Reason.EVIDENCE_MISMATCH, detail, image.event_id), decided)
            return
        at_ms = item.received.received_at_ms
        upsert(
            conn,
            tables.evidence_blobs,
            {"sha256": image.sha256, "content": image.content, "size": len(image.content), "received_at_ms": at_ms},
            keys=("sha256",),
        )
        upsert(
            conn,
            tables.evidence_arrivals,
            {"event_id": image.event_id, "sha256": image.sha256, "radar_id": item.radar_id, "received_at_ms": at_ms},
            keys=("event_id", "sha256"),
        )
        decided.counts.append(("evidence", "stored", ""))


def _named_event_id(item: Checked) -> str | None:
    outcome = item.outcome
    if isinstance(outcome, Verified):
        return str(outcome.message["event_id"])
    if isinstance(outcome, Rejected | EvidenceImage):
        return outcome.event_id
    return None


def _record_status(conn: Connection, status: Status, received: Received) -> None:
    """Liveness from a status message.

    Only an `online` status is the node speaking: an `offline` one is usually its last will, published
    by the broker, and a retained one is replayed at subscribe time, so neither counts as seen now.
    """
    seen_ms = received.received_at_ms if status.online else 0
    if received.retained and status.online:
        seen_ms = min(status.at_ms, seen_ms) if status.at_ms is not None else 0
    liveness = tables.liveness
    upsert(
        conn,
        liveness,
        {
            "kind": status.kind,
            "node_id": status.node_id[:128],
            "online": status.online,
            "state_at_ms": status.at_ms,
            "last_seen_ms": seen_ms,
            "firmware": status.firmware,
        },
        keys=("kind", "node_id"),
        update={
            "online": status.online,
            "state_at_ms": status.at_ms,
            "firmware": status.firmware,
            "last_seen_ms": _greatest(liveness.c.last_seen_ms, seen_ms),
        },
    )


def _seen(conn: Connection, radar_id: str, at_ms: int) -> None:
    """Any message on a registered radar's topics means it was heard from (online comes from status)."""
    liveness = tables.liveness
    upsert(
        conn,
        liveness,
        {"kind": "radar", "node_id": radar_id, "online": False, "last_seen_ms": at_ms},
        keys=("kind", "node_id"),
        update={"last_seen_ms": _greatest(liveness.c.last_seen_ms, at_ms)},
    )


def _printable(text: str, limit: int = 1000) -> str:
    """Details quote hostile input: keep them printable ASCII (PostgreSQL text refuses NUL)."""
    return "".join(char if " " <= char <= "~" else f"\\x{ord(char):02x}" for char in text[:limit])


def _greatest(column: Any, value: int) -> Any:
    return case((column > value, column), else_=value)


def _take(source: queue.Queue[T], limit: int) -> list[T]:
    """Block for one item, then take whatever else is already waiting, up to `limit`."""
    items = [source.get()]
    while len(items) < limit:
        try:
            items.append(source.get_nowait())
        except queue.Empty:
            break
    return items
