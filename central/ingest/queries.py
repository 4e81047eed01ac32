"""Read side of the ingest: quarantine, evidence and liveness, for the REST API and the CLI.

Every function takes a SQLAlchemy Connection and returns plain dicts / dataclasses, so the API can
return them as JSON. Call `speedledger.central.ingest.tables.create_tables(engine)` once at start-up.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, and_, or_, select

from speedledger.central.ingest.tables import evidence_arrivals, evidence_blobs, evidence_expected, liveness, quarantine

#: How long after its violation an image may still arrive before the evidence counts as missing.
DEFAULT_EVIDENCE_GRACE_MS = 10 * 60 * 1000

EvidenceStatus = Literal["received", "pending", "missing", "none", "unknown"]


def list_quarantine(
    conn: Connection,
    *,
    radar_id: str | None = None,
    reason: str | None = None,
    event_id: str | None = None,
    after_id: int = 0,
    limit: int = 100,
    include_payload: bool = True,
) -> list[dict[str, Any]]:
    """Quarantined messages, oldest first, `after_id` as the cursor (the last `quarantine_id` seen).

    `payload_b64` is the raw payload as received, base64-encoded (it may not be text): whole up to
    `rows.QUARANTINE_PREFIX_BYTES`, else that prefix (`payload_truncated`).
    """
    columns = [column for column in quarantine.columns if include_payload or column.name != "payload"]
    query = select(*columns).where(quarantine.c.quarantine_id > after_id)
    if radar_id is not None:
        query = query.where(quarantine.c.radar_id == radar_id)
    if reason is not None:
        query = query.where(quarantine.c.reason == reason)
    if event_id is not None:
        query = query.where(quarantine.c.event_id == event_id)
    rows = conn.execute(query.order_by(quarantine.c.quarantine_id).limit(max(1, min(limit, 1000)))).mappings()
    items = []
    for row in rows:
        item = {key: value for key, value in row.items() if key != "payload"}
        if include_payload:
            item["payload_b64"] = base64.b64encode(row["payload"]).decode()
            item["payload_truncated"] = len(row["payload"]) < row["payload_size"]
        items.append(item)
    return items


@dataclass(frozen=True)
class Evidence:
    """The evidence of one violation: its status and, once received, the JPEG bytes."""

    event_id: str
    status: EvidenceStatus
    image_sha256: str
    content: bytes | None = None


def evidence_for_violation(
    conn: Connection, event_id: str, *, now_ms: int, grace_ms: int = DEFAULT_EVIDENCE_GRACE_MS
) -> Evidence:
    """The evidence a violation (by its `event_id`) promised, whichever of image and violation came first.

    Status `unknown`: no recorded violation with this id (yet); `none`: the radar sent no image;
    `pending`/`missing`: not arrived, within / beyond the grace period after the violation was recorded.
    """
    expected = conn.execute(select(evidence_expected).where(evidence_expected.c.event_id == event_id)).first()
    if expected is None:
        return Evidence(event_id, "unknown", "")
    sha = expected.image_sha256
    if sha == "":
        return Evidence(event_id, "none", "")
    content = conn.execute(select(evidence_blobs.c.content).where(evidence_blobs.c.sha256 == sha)).scalar()
    if content is not None:
        return Evidence(event_id, "received", sha, bytes(content))
    status: EvidenceStatus = "missing" if now_ms - expected.recorded_at_ms > grace_ms else "pending"
    return Evidence(event_id, status, sha)


def missing_evidence(
    conn: Connection, *, now_ms: int, grace_ms: int = DEFAULT_EVIDENCE_GRACE_MS, limit: int = 1000
) -> list[dict[str, Any]]:
    """Recorded violations and passages whose promised image has not arrived within the grace period
    (a passage's image arrives sealed, and is forgotten with it: it is not missing)."""
    arrived = and_(
        evidence_arrivals.c.event_id == evidence_expected.c.event_id,
        evidence_arrivals.c.sha256 == evidence_expected.c.image_sha256,
    )
    query = (
        select(evidence_expected)
        .outerjoin(evidence_blobs, evidence_blobs.c.sha256 == evidence_expected.c.image_sha256)
        .outerjoin(evidence_arrivals, arrived)
        .where(
            and_(
                evidence_expected.c.image_sha256 != "",
                evidence_blobs.c.sha256.is_(None),
                evidence_arrivals.c.event_id.is_(None),
                evidence_expected.c.recorded_at_ms < now_ms - grace_ms,
            )
        )
        .order_by(evidence_expected.c.recorded_at_ms)
        .limit(limit)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def unmatched_evidence(conn: Connection, *, limit: int = 1000) -> list[dict[str, Any]]:
    """Images that arrived for an event_id with no recorded violation promising them (yet)."""
    query = (
        select(evidence_arrivals)
        .outerjoin(evidence_expected, evidence_expected.c.event_id == evidence_arrivals.c.event_id)
        .where(
            or_(
                evidence_expected.c.event_id.is_(None),
                evidence_expected.c.image_sha256 != evidence_arrivals.c.sha256,
            )
        )
        .order_by(evidence_arrivals.c.received_at_ms)
        .limit(limit)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def radar_liveness(conn: Connection, radar_id: str) -> dict[str, Any]:
    """`{"online": bool, "last_seen_ms": int | None, ...}` for one radar (offline, never seen, by default)."""
    row = (
        conn.execute(select(liveness).where(and_(liveness.c.kind == "radar", liveness.c.node_id == radar_id)))
        .mappings()
        .first()
    )
    if row is None:
        return {"online": False, "last_seen_ms": None, "state_at_ms": None, "firmware": None}
    return {key: row[key] for key in ("online", "last_seen_ms", "state_at_ms", "firmware")}


def list_liveness(conn: Connection, *, kind: str | None = None) -> list[dict[str, Any]]:
    """Who is online: every radar and central instance seen, with `online` and `last_seen_ms`."""
    query = select(liveness).order_by(liveness.c.kind, liveness.c.node_id)
    if kind is not None:
        query = query.where(liveness.c.kind == kind)
    return [dict(row) for row in conn.execute(query).mappings()]
