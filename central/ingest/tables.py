"""Ingest-owned tables in central's database: quarantine, evidence blobs, sealed passage images, sealed
early images, liveness, expected evidence.

Quarantine, evidence blobs and liveness are written by the ingest directly (they are what arrived over
MQTT, not domain facts); `evidence_expected` is a projection of `ViolationRecorded` (see projection.py).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
_ROW_ID = BigInteger().with_variant(Integer, "sqlite")

quarantine = Table(
    "ingest_quarantine",
    metadata,
    Column("quarantine_id", _ROW_ID, primary_key=True, autoincrement=True),
    Column("received_at_ms", BigInteger, nullable=False),
    Column("topic", String(256), nullable=False),
    Column("radar_id", String(64)),  # from the topic, as received (may be unregistered)
    Column("event_id", String(36)),  # when the payload named a well-formed one
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("payload_sha256", String(64), nullable=False),
    Column("payload_size", Integer, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    # The same bytes on the same topic refused for the same reason again (a broker re-delivery, a
    # radar re-send, a retained status at every start) count here instead of adding a row.
    Column("occurrences", Integer, nullable=False, default=1),
    Column("last_received_at_ms", BigInteger, nullable=False),
    UniqueConstraint("topic", "payload_sha256", "reason", name="uq_ingest_quarantine_payload"),
    Index("ix_ingest_quarantine_radar", "radar_id", "quarantine_id"),
    Index("ix_ingest_quarantine_event", "event_id"),
)

evidence_blobs = Table(
    "ingest_evidence_blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("content", LargeBinary, nullable=False),
    Column("size", Integer, nullable=False),
    Column("received_at_ms", BigInteger, nullable=False),
)

# The image of each accepted passage, only ever sealed under its retention window's key
# (`sections/retention.py`): null until it arrives; the rows of a window go when it closes
# (`sections/forgetting.py`), after the images of passages in an infraction were copied to the blobs.
passage_images = Table(
    "ingest_passage_images",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("window", String(64), nullable=False, index=True),
    Column("image_sha256", String(64), nullable=False),
    Column("sealed", Text),
    Column("received_at_ms", BigInteger),
)

# An image that arrived before its violation or passage was recorded (a radar publishes the image first):
# central cannot tell yet whether it is a passage's, so it is only ever kept sealed under the retention
# window of its arrival (`sections/retention.py`) until its message claims it (`rows.take_early_images`);
# the rows of a window go when it closes (`sections/forgetting.py`), unclaimed images with them.
early_images = Table(
    "ingest_early_images",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("sha256", String(64), primary_key=True),
    Column("window", String(64), nullable=False, index=True),
    Column("sealed", LargeBinary, nullable=False),  # `PassageWindows.seal_raw`: images are large
)

# Which image arrived on which `evidence/{event_id}` topic (a radar may re-send the same image).
evidence_arrivals = Table(
    "ingest_evidence_arrivals",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("sha256", String(64), primary_key=True),
    Column("radar_id", String(64), nullable=False),
    Column("received_at_ms", BigInteger, nullable=False),
)

liveness = Table(
    "ingest_liveness",
    metadata,
    Column("kind", String(16), primary_key=True),  # "radar" or "central"
    Column("node_id", String(128), primary_key=True),
    Column("online", Boolean, nullable=False),
    Column("state_at_ms", BigInteger),  # `at_ms` of the last status message (the node's clock)
    Column("last_seen_ms", BigInteger, nullable=False),  # central's clock, any message from the node
    Column("firmware", String(64)),
)

# Projection-owned (see projection.py): what image each recorded violation promised.
evidence_expected = Table(
    "ingest_evidence_expected",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("radar_id", String(64), nullable=False),
    Column("image_sha256", String(64), nullable=False),
    Column("recorded_at_ms", BigInteger, nullable=False),
    Index("ix_ingest_evidence_expected_sha", "image_sha256"),
)

# The retained-speed rule radar configs carry, and since when (see config_rule.py): one row.
config_rule = Table(
    "ingest_config_rule",
    metadata,
    Column("row_id", Integer, primary_key=True, autoincrement=False),
    Column("rule", String(200), nullable=False),
    Column("since_ms", BigInteger, nullable=False),
)

#: Tables the ingest writes itself; the projection runner creates `evidence_expected`.
DIRECT_TABLES = (
    quarantine,
    evidence_blobs,
    evidence_arrivals,
    passage_images,
    early_images,
    liveness,
    config_rule,
)


def create_tables(engine: Engine) -> None:
    """Create the ingest's tables when missing (idempotent; safe to call from several processes)."""
    metadata.create_all(engine, tables=[*DIRECT_TABLES, evidence_expected], checkfirst=True)
