"""The ingest's own rows (tables.py), written inside the batch's transaction: quarantine, evidence
(passages' images, and images that arrive before their message, sealed), liveness. Each is an upsert,
so a message delivered again changes nothing but a counter or a time."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, delete, literal_column, select, tuple_, update

from speedledger.central.eventstore.sql import in_list
from speedledger.central.ingest import tables
from speedledger.central.ingest.classify import EvidenceImage, Status
from speedledger.central.ingest.mqtt import Received
from speedledger.central.ingest.parse import Rejected
from speedledger.central.ingest.sql import upsert, upsert_statement
from speedledger.central.sections.retention import PassageWindows, Window
from speedledger.shared import violation

#: Bytes of a refused payload kept in the quarantine: a whole violation up to its size limit; of
#: anything larger (an oversized violation or image) only this prefix, beside its size and SHA-256,
#: so the limits protect the disk too.
QUARANTINE_PREFIX_BYTES = violation.MAX_PAYLOAD_BYTES


def quarantine(conn: Connection, received: Received, radar_id: str | None, rejected: Rejected) -> None:
    """Keep the refused message with its reason, size, SHA-256 and at most `QUARANTINE_PREFIX_BYTES`
    of its bytes; the same bytes refused again bump `occurrences`."""
    upsert(
        conn,
        tables.quarantine,
        {
            "received_at_ms": received.received_at_ms,
            "last_received_at_ms": received.received_at_ms,
            "topic": received.topic[:256],
            "radar_id": radar_id[:64] if radar_id is not None else None,
            "event_id": rejected.event_id,
            "reason": rejected.reason.value,
            "detail": _printable(rejected.detail),
            "payload_sha256": hashlib.sha256(received.payload).hexdigest(),
            "payload_size": len(received.payload),
            "payload": received.payload[:QUARANTINE_PREFIX_BYTES],
            "occurrences": 1,
        },
        keys=("topic", "payload_sha256", "reason"),
        update={
            "occurrences": tables.quarantine.c.occurrences + 1,
            "last_received_at_ms": received.received_at_ms,
        },
    )


def expected_image(conn: Connection, event_id: str) -> str | None:
    """The image SHA-256 the recorded violation `event_id` signed ("" for none); None before it is recorded."""
    expected = tables.evidence_expected
    sha256: str | None = conn.execute(select(expected.c.image_sha256).where(expected.c.event_id == event_id)).scalar()
    return sha256


def store_evidence(conn: Connection, image: EvidenceImage, radar_id: str | None, at_ms: int) -> None:
    """The image once by content, and its arrival for the violation it names."""
    keep_blob(conn, image.sha256, image.content, at_ms)
    record_arrival(conn, image, radar_id, at_ms)


def keep_blob(conn: Connection, sha256: str, content: bytes, at_ms: int) -> None:
    """An image in the evidence blobs, in clear, once by content (a violation's, or a section infraction's)."""
    values = {"sha256": sha256, "content": content, "size": len(content), "received_at_ms": at_ms}
    upsert(conn, tables.evidence_blobs, values, keys=("sha256",))


def record_arrival(conn: Connection, image: EvidenceImage, radar_id: str | None, at_ms: int) -> None:
    """Which image arrived for which event_id (no bytes of it)."""
    upsert(
        conn,
        tables.evidence_arrivals,
        {"event_id": image.event_id, "sha256": image.sha256, "radar_id": radar_id, "received_at_ms": at_ms},
        keys=("event_id", "sha256"),
    )


def expect_passage_image(
    conn: Connection, windows: PassageWindows, event_id: str, window: str, image_sha256: str
) -> None:
    """An accepted passage: its image is kept sealed under `window`'s key, the one that arrived before it
    (`take_early_images`) now."""
    images = tables.passage_images
    upsert(conn, images, {"event_id": event_id, "window": window, "image_sha256": image_sha256}, keys=("event_id",))
    early = take_early_images(conn, windows, [(event_id, image_sha256)]).get((event_id, image_sha256))
    if early is not None:
        seal_passage_image(conn, windows, event_id, window, *early)


def keep_early_evidence(conn: Connection, windows: PassageWindows, claims: Collection[tuple[str, str]]) -> None:
    """Violations, as (event_id, image SHA-256) pairs: the images they signed that arrived before them
    (`take_early_images`) go to the evidence blobs, in clear like any violation's."""
    for (_, image_sha256), taken in take_early_images(conn, windows, claims).items():
        keep_blob(conn, image_sha256, *taken)


def seal_early_image(conn: Connection, windows: PassageWindows, image: EvidenceImage) -> None:
    """An image that no recorded violation or passage expects (yet), which could be a passage's: kept only
    sealed, under the key of the current retention window, until its message claims it. One that nothing
    claims is deleted, and unreadable anywhere, when that window closes."""
    window = windows.current()
    sealed = windows.seal_raw(window, image.content, image.event_id)
    if sealed is not None:  # the current window is open: always
        values = {"event_id": image.event_id, "sha256": image.sha256, "window": window.subject, "sealed": sealed}
        upsert(conn, tables.early_images, values, keys=("event_id", "sha256"))


def take_early_images(
    conn: Connection, windows: PassageWindows, claims: Collection[tuple[str, str]]
) -> dict[tuple[str, str], tuple[bytes, int]]:
    """Of the (event_id, image SHA-256) pairs `claims`, the images that arrived before their message
    (`seal_early_image`), opened, and when they arrived; their sealed rows are deleted. One statement for
    all the claims (the usual answer is none), one more for the arrival times of those found. An image
    whose window has closed is deleted and not given."""
    if not claims:
        return {}
    early, arrivals = tables.early_images, tables.evidence_arrivals
    taken = conn.execute(
        delete(early)
        .where(tuple_(early.c.event_id, early.c.sha256).in_(in_list(list(claims))))
        .returning(early.c.event_id, early.c.sha256, early.c.window, early.c.sealed)
    ).all()
    if not taken:
        return {}
    found = [(row.event_id, row.sha256) for row in taken]
    arrived = conn.execute(
        select(arrivals.c.event_id, arrivals.c.sha256, arrivals.c.received_at_ms).where(
            tuple_(arrivals.c.event_id, arrivals.c.sha256).in_(in_list(found))
        )
    ).all()
    at_ms = {(row.event_id, row.sha256): row.received_at_ms for row in arrived}
    opened = {}
    for row in taken:
        content = windows.open(Window.parse(row.window), bytes(row.sealed), row.event_id)
        if content is not None:
            opened[row.event_id, row.sha256] = (content, at_ms[row.event_id, row.sha256])
    return opened


def claim_early_images(conn: Connection, windows: PassageWindows) -> int:
    """Repair: the early images whose passage is recorded or violation projected by now, claimed as their
    message would (a passage's sealed under its window, a violation's kept in the blobs): on PostgreSQL an
    image arriving while that transaction runs is seen by neither. Returns the count."""
    early, images, expected = tables.early_images, tables.passage_images, tables.evidence_expected
    found = conn.execute(
        select(early.c.event_id, early.c.sha256, images.c.window)
        .outerjoin(images, and_(images.c.event_id == early.c.event_id, images.c.image_sha256 == early.c.sha256))
        .outerjoin(expected, and_(expected.c.event_id == early.c.event_id, expected.c.image_sha256 == early.c.sha256))
        .where((images.c.event_id.is_not(None)) | (expected.c.event_id.is_not(None)))
    ).all()
    for row in found:
        if row.window is not None:
            expect_passage_image(conn, windows, row.event_id, row.window, row.sha256)
    keep_early_evidence(conn, windows, [(row.event_id, row.sha256) for row in found if row.window is None])
    return len(found)


def passage_image_window(conn: Connection, event_id: str) -> tuple[str, str] | None:
    """(window, signed image SHA-256) of the accepted passage `event_id`; None for anything else."""
    images = tables.passage_images
    row = conn.execute(select(images.c.window, images.c.image_sha256).where(images.c.event_id == event_id)).first()
    return (row.window, row.image_sha256) if row is not None else None


def seal_passage_image(
    conn: Connection, windows: PassageWindows, event_id: str, window: str, content: bytes, at_ms: int
) -> None:
    """Keep a passage's image sealed under its window's key (nothing when the window has closed)."""
    images = tables.passage_images
    sealed = windows.seal(Window.parse(window), content, event_id)
    conn.execute(update(images).where(images.c.event_id == event_id).values(sealed=sealed, received_at_ms=at_ms))


def keep_passage_images(conn: Connection, windows: PassageWindows, which: ColumnElement[bool]) -> int:
    """Open the sealed images of the passages `which` selects (a condition on `passage_images`: those of a
    section infraction) and keep them in the evidence blobs, in clear like a spot violation's, out of their
    window's reach. Images not arrived, already kept, or whose window closed are skipped. Returns the count."""
    images, blobs = tables.passage_images, tables.evidence_blobs
    found = conn.execute(
        select(images)
        .outerjoin(blobs, blobs.c.sha256 == images.c.image_sha256)
        .where(images.c.sealed.is_not(None), blobs.c.sha256.is_(None), which)
    ).all()
    kept = 0
    for row in found:
        image = windows.open(Window.parse(row.window), row.sealed, row.event_id)
        if image is None:
            continue
        keep_blob(conn, row.image_sha256, image, row.received_at_ms)
        kept += 1
    return kept


def record_status(conn: Connection, status: Status, received: Received) -> None:
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


def record_seen(conn: Connection, seen: Mapping[str, int]) -> None:
    """Any message on a registered radar's topics means it was heard from (online comes from status):
    `seen` maps each radar to its latest arrival in the batch, all written in one `executemany`."""
    if not seen:
        return
    rows = [
        {"kind": "radar", "node_id": radar_id, "online": False, "last_seen_ms": at_ms}
        for radar_id, at_ms in seen.items()
    ]
    conn.execute(_seen_statement(conn.dialect.name), rows)


@functools.cache
def _seen_statement(dialect: str) -> Any:
    """`record_seen`'s upsert, built once per dialect: building it again on every commit cost more
    CPU than executing it."""
    liveness = tables.liveness
    arrived: Any = literal_column("excluded.last_seen_ms")  # the row being inserted (SQLite and PostgreSQL)
    update = {"last_seen_ms": _greatest(liveness.c.last_seen_ms, arrived)}
    return upsert_statement(dialect, liveness, keys=("kind", "node_id"), update=update)


def _printable(text: str, limit: int = 1000) -> str:
    """Details quote hostile input: keep them printable ASCII (PostgreSQL text refuses NUL)."""
    return "".join(char if " " <= char <= "~" else f"\\x{ord(char):02x}" for char in text[:limit])


def _greatest(column: Any, value: Any) -> Any:
    return case((column > value, column), else_=value)
