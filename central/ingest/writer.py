"""The commit stage's transaction: what a checked batch writes, and the acks it owes once committed.

`BatchWriter.write(batch)` writes the whole batch in ONE store transaction (the port's unit of work)
and ONE append (`tx.append_batch`): each verified violation or passage appended as `ViolationRecorded`
or `PassageRecorded` (NO_STREAM on `violation-{radar_id}-{seq}`, the radar's one seq counter; store
event_id = message event_id), answered `accepted`, `duplicate` or refused when the store says its
event_id or seq was already used; each refusal kept in the quarantine; evidence images stored (or
quarantined when they do not match what their message signed); liveness rows. It returns the
acks to publish and the metric labels to count; the pipeline does both only after the commit.
A passage's image is stored sealed under its retention window's key (`rows.seal_passage_image`), or
dropped once that window has closed; once the passage is in a section infraction, in clear with the
infraction's evidence. An image whose message is not known yet (the radar publishes the image first)
could be a passage's: it is stored sealed under the current window's key (`rows.seal_early_image`),
claimed by its passage in the transaction that records it, by its violation in the one that projects
it (`projection.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select

from speedledger.central.eventstore.port import (
    NO_STREAM,
    AppendOutcome,
    AppendRequest,
    DuplicateEvent,
    EventStore,
    NewEvent,
    Transaction,
    WrongExpectedVersion,
)
from speedledger.central.infractions.queries import in_section_infraction
from speedledger.central.ingest import rows
from speedledger.central.ingest.checks import Verified
from speedledger.central.ingest.classify import Checked, EvidenceImage, Status
from speedledger.central.ingest.kinds import PASSAGE, SIGNED_KINDS
from speedledger.central.ingest.mqtt import Received
from speedledger.central.ingest.parse import Rejected
from speedledger.central.ingest.reasons import Reason
from speedledger.central.sections.retention import PassageWindows
from speedledger.shared import fast_canonical, topics, violation


class RecordBuilder(Protocol):
    """Builds the (stream_id, event) that records a verified message, given the bytes as received."""

    def __call__(self, message: dict[str, Any], received_at_ms: int, *, payload: bytes) -> tuple[str, NewEvent]: ...


#: The builder of each signed kind, by `SignedKind.name`.
RecordBuilders = Mapping[str, RecordBuilder]


@dataclass(frozen=True)
class Recording:
    """What the writer records messages with: the event builder of each kind, and the retention windows
    that seal passages' images."""

    builders: RecordBuilders
    passages: PassageWindows


ACKED_KINDS = frozenset(kind.name for kind in SIGNED_KINDS)


@dataclass
class Written:
    """What one transaction decided: acks to publish after it, and metric labels to count."""

    acks: list[tuple[str, bytes]] = field(default_factory=list)
    counts: list[tuple[str, str, str]] = field(default_factory=list)


def ack_payload(event_id: str, seq: int | None, result: str, reason: str = "", **extra: str) -> bytes:
    """The ack JSON (CONTRACT section 2), canonical so the device can parse it with anything."""
    body: dict[str, Any] = {"event_id": event_id, "result": result, "reason": reason, **extra}
    if seq is not None:
        body["seq"] = seq
    return fast_canonical.dumps(body)


class BatchWriter:
    def __init__(self, store: EventStore, recording: Recording) -> None:
        self._store = store
        self._recording = recording

    def write(self, batch: Sequence[Checked]) -> Written:
        written = Written()
        appended: dict[str, str] = {}  # stream_id -> event_id appended in this transaction
        seen: dict[str, int] = {}  # radar_id -> latest arrival of a live (not retained) message
        with self._store.transaction() as tx:
            stored = self._append_all(tx, batch)
            self._expect_passage_images(tx, batch, stored)
            for index, item in enumerate(batch):
                outcome = item.outcome
                if isinstance(outcome, Verified):
                    outcome = self._answer(item, outcome, stored.get(index), appended, written)
                if isinstance(outcome, Rejected):
                    self._quarantine(tx, item, outcome, written)
                elif isinstance(outcome, EvidenceImage):
                    self._store_evidence(tx, item, outcome, written)
                elif isinstance(outcome, Status):
                    rows.record_status(tx.connection, outcome, item.received)
                    written.counts.append((item.kind, "stored", ""))
                radar_id = item.radar_id
                if item.registered and radar_id is not None and item.kind != "status" and not item.received.retained:
                    seen[radar_id] = max(seen.get(radar_id, 0), item.received.received_at_ms)
            rows.record_seen(tx.connection, seen)
        return written

    def _record(self, verified: Verified, received: Received) -> tuple[str, NewEvent]:
        record = self._recording.builders[verified.kind.name]
        return record(verified.message, received.received_at_ms, payload=received.payload)

    def _append_all(self, tx: Transaction, batch: Sequence[Checked]) -> dict[int, tuple[str, AppendOutcome]]:
        """Every verified violation of the batch (key not revoked) in ONE append: one turn at the
        store's append lock and one round of lookups, not one per message. By batch index: the
        stream and what the store said."""
        requests: dict[int, AppendRequest] = {}
        for index, item in enumerate(batch):
            if isinstance(item.outcome, Verified) and not item.outcome.revoked_key:
                stream_id, event = self._record(item.outcome, item.received)
                requests[index] = AppendRequest(stream_id, [event], NO_STREAM)
        outcomes = tx.append_batch(list(requests.values()))
        answered = zip(requests.items(), outcomes, strict=True)
        return {index: (request.stream_id, outcome) for (index, request), outcome in answered}

    def _expect_passage_images(
        self, tx: Transaction, batch: Sequence[Checked], stored: Mapping[int, tuple[str, AppendOutcome]]
    ) -> None:
        """Each recorded passage expects its image (sealed under its window), taking one that came before."""
        for index, (_, outcome) in stored.items():
            if batch[index].kind == PASSAGE.name and isinstance(outcome, list):
                data = outcome[0].data
                rows.expect_passage_image(
                    tx.connection, self._recording.passages, outcome[0].event_id, data["window"], data["image_sha256"]
                )

    def _answer(
        self,
        item: Checked,
        verified: Verified,
        stored: tuple[str, AppendOutcome] | None,
        appended: dict[str, str],
        written: Written,
    ) -> Rejected | None:
        """Owe the message's ack, or the refusal the store's answer amounts to (`stored` None: its
        key is revoked and nothing was appended)."""
        message = verified.message
        event_id, seq = message["event_id"], message["seq"]
        if stored is None:
            stream_id, _ = self._record(verified, item.received)
            if self._recorded_event_id(stream_id, appended) == event_id:
                _ack(item, written, event_id, seq, "duplicate", original="accepted")
                return None
            return Rejected(Reason.REVOKED_KEY, f"key {message['key_id']} is revoked", event_id, seq)
        stream_id, outcome = stored
        if isinstance(outcome, DuplicateEvent):
            if self._recorded_event_id(stream_id, appended) == event_id:
                _ack(item, written, event_id, seq, "duplicate", original="accepted")
                return None
            return Rejected(Reason.EVENT_ID_REUSE, "event_id already recorded for another radar or seq", event_id, seq)
        if isinstance(outcome, WrongExpectedVersion):
            return Rejected(Reason.SEQ_REUSE, f"seq {seq} already recorded under another event_id", event_id, seq)
        appended[stream_id] = event_id
        _ack(item, written, event_id, seq, "accepted")
        return None

    def _recorded_event_id(self, stream_id: str, appended: dict[str, str]) -> str | None:
        if stream_id in appended:
            return appended[stream_id]
        recorded = self._store.read_stream(stream_id)
        return recorded[0].event_id if recorded else None

    @staticmethod
    def _quarantine(tx: Transaction, item: Checked, rejected: Rejected, written: Written) -> None:
        rows.quarantine(tx.connection, item.received, item.radar_id, rejected)
        if rejected.event_id is not None:
            _ack(item, written, rejected.event_id, rejected.seq, "rejected", rejected.reason.value)
        else:
            written.counts.append((item.kind, "rejected", rejected.reason.value))

    def _store_evidence(self, tx: Transaction, item: Checked, image: EvidenceImage, written: Written) -> None:
        conn, at_ms = tx.connection, item.received.received_at_ms
        passage = rows.passage_image_window(conn, image.event_id)
        expected = passage[1] if passage is not None else rows.expected_image(conn, image.event_id)
        if expected is not None and expected != image.sha256:
            detail = f"image sha256 {image.sha256} but the message signed {expected or 'no image'}"
            self._quarantine(tx, item, Rejected(Reason.EVIDENCE_MISMATCH, detail, image.event_id), written)
            return
        if expected is None:  # its message not known yet: it could be a passage's, so sealed until claimed
            rows.record_arrival(conn, image, item.radar_id, at_ms)
            rows.seal_early_image(conn, self._recording.passages, image)
        elif passage is None or conn.execute(select(in_section_infraction(image.event_id))).scalar():
            # A violation's image, or a passage's once in a section infraction: kept with it, in clear.
            rows.store_evidence(conn, image, item.radar_id, at_ms)
        else:  # sealed under its window's key; nothing is kept when its window has closed
            rows.record_arrival(conn, image, item.radar_id, at_ms)
            rows.seal_passage_image(conn, self._recording.passages, image.event_id, passage[0], image.content, at_ms)
        written.counts.append(("evidence", "stored", ""))


def _ack(
    item: Checked, written: Written, event_id: str, seq: int | None, result: str, reason: str = "", **extra: str
) -> None:
    """Owe an ack for a violation or passage (evidence has none) and count the result either way."""
    if item.radar_id is not None and violation.is_radar_id(item.radar_id) and item.kind in ACKED_KINDS:
        written.acks.append((topics.acks(item.radar_id), ack_payload(event_id, seq, result, reason, **extra)))
    written.counts.append((item.kind, result, reason))


def named_event_id(item: Checked) -> str | None:
    """The event_id a checked message names, if any (for a quarantine row when storing it failed)."""
    outcome = item.outcome
    if isinstance(outcome, Verified):
        return str(outcome.message["event_id"])
    if isinstance(outcome, Rejected | EvidenceImage):
        return outcome.event_id
    return None
