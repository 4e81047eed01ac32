"""Projection of `ViolationRecorded` and `PassageRecorded` into `ingest_evidence_expected`: which image
each violation or passage signed; and of a section's `InfractionIssued`: its passages' images kept.

With the evidence blobs (stored by SHA-256 whenever they arrive) this matches an image to its
message whichever came first, and shows the messages whose image never arrived.

A violation's image that came before it waits sealed (`rows.seal_early_image`): the transaction that
projects the violation opens it into the blobs (`rows.keep_early_evidence`, one statement for a batch's
violations), so the evidence is there as soon as the violation is expected.

A section infraction's two images are opened from their retention window and kept in the evidence
blobs in the transaction that projects the infraction (`rows.keep_passage_images`), so its export can
be made as soon as the infractions read model shows it; an image arriving later goes to the blobs
directly (`writer.BatchWriter`). The forgetting repeats the copy as a repair (`sections/forgetting.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from sqlalchemy import Connection, Table

from speedledger.central.eventstore.port import RecordedEvent
from speedledger.central.infractions.domain import InfractionKind
from speedledger.central.infractions.events import InfractionIssued, ViolationRecorded
from speedledger.central.ingest import rows
from speedledger.central.ingest.sql import upsert_statement
from speedledger.central.ingest.tables import evidence_blobs, evidence_expected, passage_images
from speedledger.central.messages import Event, EventTypes
from speedledger.central.projections.readmodel import TableProjection, Writes
from speedledger.central.sections.events import PassageRecorded
from speedledger.central.sections.retention import PassageWindows


class EvidenceProjection(TableProjection):
    name = "ingest_evidence"
    event_types = EventTypes([ViolationRecorded, PassageRecorded, InfractionIssued])

    def __init__(self, passages: PassageWindows) -> None:
        super().__init__([evidence_expected])
        self._passages = passages
        self._claims_early_images = True

    def bind(self, tables: Mapping[str, Table]) -> TableProjection:
        """A rebuild's copy claims no early image: the live projection, which keeps running, or else the
        forgetting's repair does (`rows.claim_early_images`), so a replay spends no statement on them."""
        clone = super().bind(tables)
        assert isinstance(clone, EvidenceProjection)
        clone._claims_early_images = False
        return clone

    def _keep_early_evidence(self, conn: Connection, claims: list[tuple[str, str]]) -> None:
        """The batch's violations claim the images that came before them: one statement for all."""
        rows.keep_early_evidence(conn, self._passages, claims)

    def handle(self, writes: Writes, event: Event, recorded: RecordedEvent) -> None:
        if isinstance(event, InfractionIssued):
            if event.kind == InfractionKind.SECTION.value:
                passages = passage_images.c.event_id.in_([event.entry_event_id, event.exit_event_id])
                writes.call(
                    evidence_blobs.name, partial(rows.keep_passage_images, windows=self._passages, which=passages)
                )
            return
        if isinstance(event, ViolationRecorded):
            radar_id, image_sha256 = str(event.message["radar_id"]), str(event.message["image_sha256"])
            if image_sha256 and self._claims_early_images:
                writes.gather(evidence_blobs.name, self._keep_early_evidence, (recorded.event_id, image_sha256))
        elif isinstance(event, PassageRecorded):
            radar_id, image_sha256 = event.radar_id, event.image_sha256
        else:
            return
        dialect = writes.dialect
        upsert = writes.prepared(
            f"insert or keep ({dialect})",
            evidence_expected.name,
            lambda table: upsert_statement(dialect, table, keys=("event_id",)),
        )
        writes.add(
            evidence_expected.name,
            upsert,
            {
                "event_id": recorded.event_id,
                "radar_id": radar_id,
                "image_sha256": image_sha256,
                "recorded_at_ms": recorded.recorded_at_ms,
            },
        )
