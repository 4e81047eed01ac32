"""Build an infraction's evidence export (format in `bundle`) from the event store and the read models."""

from __future__ import annotations

from typing import Any

from speedledger.central.bootstrap import Central, central_config_key
from speedledger.central.errors import Conflict, NotFound
from speedledger.central.eventstore.port import RecordedEvent
from speedledger.central.evidence import bundle
from speedledger.central.infractions.domain import InfractionKind
from speedledger.central.infractions.events import infraction_stream, violation_stream
from speedledger.central.infractions.fines import fine_schedule_document
from speedledger.central.infractions.queries import get_infraction
from speedledger.central.infractions.violations import received_payload
from speedledger.central.ingest.queries import evidence_for_violation
from speedledger.central.radars.lookup import load_radar
from speedledger.shared import keys


def export_infraction(central: Central, infraction_id: str) -> bytes:
    """The zip for `infraction_id`. NotFound when unknown; Conflict while its evidence image has not arrived,
    and for a section infraction (not built yet)."""
    with central.engine.connect() as conn:
        infraction = get_infraction(conn, infraction_id, central.cipher)
        if infraction is None:
            raise NotFound(f"infraction {infraction_id!r} not found")
        if infraction.kind is InfractionKind.SECTION:
            # Two passages, two signatures, the section's distance and limit: a bundle of its own (issue 15).
            raise Conflict(f"infraction {infraction_id} is a section infraction: its evidence export is not built yet")
        evidence = evidence_for_violation(conn, infraction.event_id, now_ms=central.clock())
    if infraction.image_sha256 and evidence.content is None:
        raise Conflict(f"the evidence image of infraction {infraction_id} has not arrived ({evidence.status})")
    message = infraction.device_message
    radar = load_radar(central.store, infraction.radar_id)
    key = radar.key(str(message["key_id"])) if radar is not None else None
    if radar is None or key is None:
        raise Conflict(f"radar {infraction.radar_id} or its key {message['key_id']} is no longer known")
    detected_at_ms = infraction.detected_at_ms
    in_force = radar.verification_at(detected_at_ms)
    recorded = central.store.read_stream(violation_stream(infraction.radar_id, infraction.seq))
    events = [*recorded, *central.store.read_stream(infraction_stream(infraction_id))]
    config_key = central_config_key(central.settings)
    members = {
        bundle.VIOLATION: received_payload(message, recorded[0].metadata if recorded else {}),
        bundle.RADAR_KEY: bundle.json_member(
            {
                "radar_id": radar.radar_id,
                "key_id": key.key_id,
                "public_key": keys.b64encode(key.public_key),
                "added_at_ms": key.added_at_ms,
                # The key registered with the radar also covers what it measured before central knew it,
                # as its first speed limit does; a rotated key is valid from when it was added.
                "valid_from_ms": None if key.key_id == radar.keys[0].key_id else key.added_at_ms,
                "valid_until_ms": key.revoked_at_ms,
            }
        ),
        bundle.METROLOGY: bundle.json_member(
            {
                "radar_id": radar.radar_id,
                "detected_at_ms": detected_at_ms,
                "in_force": in_force.fields() if in_force is not None else None,
                "records": [record.fields() for record in radar.metrology],
            }
        ),
        bundle.EVENTS: bundle.json_member([_event(recorded) for recorded in sorted(events, key=_position)]),
        bundle.FINE_SCHEDULE: bundle.json_member(fine_schedule_document(central.settings.fine_schedule)),
        bundle.CENTRAL_KEY: bundle.json_member(config_key.public_info()),
    }
    if evidence.content is not None:
        members[bundle.EVIDENCE] = evidence.content
    body = bundle.manifest_body(members, infraction_id, infraction.event_id, central.clock())
    return bundle.write_zip(members, config_key.sign(body))


def _position(recorded: RecordedEvent) -> int:
    return recorded.position


def _event(recorded: RecordedEvent) -> dict[str, Any]:
    return {
        "position": recorded.position,
        "stream_id": recorded.stream_id,
        "version": recorded.version,
        "type": recorded.type,
        "event_id": recorded.event_id,
        "recorded_at_ms": recorded.recorded_at_ms,
        "data": dict(recorded.data),
        "metadata": dict(recorded.metadata),
    }
