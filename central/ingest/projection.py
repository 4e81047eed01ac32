"""Projection of `ViolationRecorded` into `ingest_evidence_expected`: which image each violation signed.

With the evidence blobs (stored by SHA-256 whenever they arrive) this matches an image to its
violation whichever came first, and shows the violations whose image never arrived.
"""

from __future__ import annotations

from sqlalchemy import Connection

from speedledger.central.eventstore.port import RecordedEvent
from speedledger.central.infractions.events import INFRACTION_EVENTS, ViolationRecorded
from speedledger.central.ingest.sql import upsert
from speedledger.central.ingest.tables import evidence_expected
from speedledger.central.messages import Event
from speedledger.central.projections.readmodel import TableProjection


class EvidenceProjection(TableProjection):
    name = "ingest_evidence"
    event_types = INFRACTION_EVENTS

    def __init__(self) -> None:
        super().__init__([evidence_expected])

    def handle(self, conn: Connection, event: Event, recorded: RecordedEvent) -> None:
        if isinstance(event, ViolationRecorded):
            message = event.message
            upsert(
                conn,
                self.table(evidence_expected.name),
                {
                    "event_id": recorded.event_id,
                    "radar_id": message["radar_id"],
                    "image_sha256": message["image_sha256"],
                    "recorded_at_ms": recorded.recorded_at_ms,
                },
                keys=("event_id",),
            )
