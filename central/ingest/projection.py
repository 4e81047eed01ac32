"""Projection of `ViolationRecorded` and `PassageRecorded` into `ingest_evidence_expected`: which image
each violation or passage signed.

With the evidence blobs (stored by SHA-256 whenever they arrive) this matches an image to its
message whichever came first, and shows the messages whose image never arrived.
"""

from __future__ import annotations

from sqlalchemy import Connection

from speedledger.central.eventstore.port import RecordedEvent
from speedledger.central.infractions.events import ViolationRecorded
from speedledger.central.ingest.sql import upsert
from speedledger.central.ingest.tables import evidence_expected
from speedledger.central.messages import Event, EventTypes
from speedledger.central.projections.readmodel import TableProjection
from speedledger.central.sections.events import PassageRecorded


class EvidenceProjection(TableProjection):
    name = "ingest_evidence"
    event_types = EventTypes([ViolationRecorded, PassageRecorded])

    def __init__(self) -> None:
        super().__init__([evidence_expected])

    def handle(self, conn: Connection, event: Event, recorded: RecordedEvent) -> None:
        if isinstance(event, ViolationRecorded):
            radar_id, image_sha256 = str(event.message["radar_id"]), str(event.message["image_sha256"])
        elif isinstance(event, PassageRecorded):
            radar_id, image_sha256 = event.radar_id, event.image_sha256
        else:
            return
        upsert(
            conn,
            self.table(evidence_expected.name),
            {
                "event_id": recorded.event_id,
                "radar_id": radar_id,
                "image_sha256": image_sha256,
                "recorded_at_ms": recorded.recorded_at_ms,
            },
            keys=("event_id",),
        )
