"""The quarantine keeps what proves a refusal (reason, size, SHA-256, a bounded prefix), never a whole
oversized payload: the 64 KiB and 4 MiB limits protect the disk as well as the ingest."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from sqlalchemy import Engine

from speedledger.central.eventstore.sqlite import sqlite_engine
from speedledger.central.ingest import rows, tables
from speedledger.central.ingest.mqtt import Delivery, Received
from speedledger.central.ingest.parse import Rejected
from speedledger.central.ingest.queries import list_quarantine
from speedledger.central.ingest.reasons import Reason


def _engine(tmp_path: Path) -> Engine:
    engine = sqlite_engine(f"sqlite:///{tmp_path}/q.db")
    tables.create_tables(engine)
    return engine


def _refuse(engine: Engine, topic: str, payload: bytes, reason: Reason) -> dict[str, object]:
    received = Received(topic, payload, False, 1_700_000_000_000, Delivery(1, 1, 1))
    with engine.begin() as conn:
        rows.quarantine(conn, received, "R-1", Rejected(reason, "refused"))
    with engine.connect() as conn:
        [row] = list_quarantine(conn, reason=reason.value)
    return row


def test_an_oversized_image_keeps_its_size_hash_and_a_bounded_prefix(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    image = b"\xff\xd8\xff\xe0" + bytes(range(256)) * (5 * 4096)  # 5 MiB, above the 4 MiB evidence limit

    row = _refuse(engine, "speedledger/v1/radars/R-1/evidence/x", image, Reason.EVIDENCE_OVERSIZED)

    kept = base64.b64decode(str(row["payload_b64"]))
    assert kept == image[: rows.QUARANTINE_PREFIX_BYTES]
    assert len(kept) < len(image)
    assert row["payload_size"] == len(image)
    assert row["payload_sha256"] == hashlib.sha256(image).hexdigest()
    assert row["payload_truncated"] is True


def test_an_oversized_violation_is_cut_and_a_normal_one_kept_whole(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    oversized = b"{" + b" " * (rows.QUARANTINE_PREFIX_BYTES * 3)
    forged = b'{"v":1,"sig":"forged"}'

    cut = _refuse(engine, "speedledger/v1/radars/R-1/violations", oversized, Reason.OVERSIZED)
    whole = _refuse(engine, "speedledger/v1/radars/R-1/violations", forged, Reason.BAD_SIGNATURE)

    assert len(base64.b64decode(str(cut["payload_b64"]))) == rows.QUARANTINE_PREFIX_BYTES
    assert (cut["payload_size"], cut["payload_truncated"]) == (len(oversized), True)
    assert base64.b64decode(str(whole["payload_b64"])) == forged
    assert whole["payload_truncated"] is False
