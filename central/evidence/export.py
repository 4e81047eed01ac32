"""Build an infraction's evidence export (format in `bundle`) from the event store and the read models.

A section infraction's two passages come from its own evidence copies (the infraction's signed
messages, the images through the evidence context), never from the passage streams or the pairing
tables: passages that paired are kept with the infraction, the others are forgotten.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from speedledger.central.bootstrap import Central, central_config_key
from speedledger.central.errors import Conflict, NotFound
from speedledger.central.eventstore.port import RecordedEvent
from speedledger.central.evidence import bundle
from speedledger.central.infractions.domain import InfractionKind
from speedledger.central.infractions.events import infraction_stream, violation_stream
from speedledger.central.infractions.fines import fine_schedule_document
from speedledger.central.infractions.queries import InfractionDetail, get_infraction
from speedledger.central.infractions.violations import received_payload
from speedledger.central.ingest.kinds import PASSAGE, VIOLATION, SignedKind
from speedledger.central.ingest.queries import evidence_for_violation
from speedledger.central.radars.lookup import RadarState, load_radar
from speedledger.central.sections.lookup import load_section
from speedledger.shared import canonical, keys


def export_infraction(central: Central, infraction_id: str) -> bytes:
    """The zip for `infraction_id`. NotFound when unknown; Conflict while an evidence image has not arrived,
    or when a radar, its key or the section is no longer known."""
    with central.engine.connect() as conn:
        infraction = get_infraction(conn, infraction_id, central.cipher)
        if infraction is None:
            raise NotFound(f"infraction {infraction_id!r} not found")
        if infraction.kind is InfractionKind.SECTION:
            members = _section_members(central, conn, infraction)
        else:
            members = _spot_members(central, conn, infraction)
    config_key = central_config_key(central.settings)
    members[bundle.FINE_SCHEDULE] = bundle.json_member(fine_schedule_document(central.settings.fine_schedule))
    members[bundle.CENTRAL_KEY] = bundle.json_member(config_key.public_info())
    body = bundle.manifest_body(members, infraction.kind, infraction_id, infraction.event_id, central.clock())
    return bundle.write_zip(members, config_key.sign(body))


def _spot_members(central: Central, conn: Connection, infraction: InfractionDetail) -> dict[str, bytes]:
    message = infraction.device_message
    radar, key_document = _radar_key(central, infraction.radar_id, str(message["key_id"]))
    recorded = central.store.read_stream(violation_stream(infraction.radar_id, infraction.seq))
    members = {
        bundle.VIOLATION: received_payload(message, recorded[0].metadata if recorded else {}),
        bundle.RADAR_KEY: key_document,
        bundle.METROLOGY: _metrology(radar, VIOLATION, message),
        bundle.EVENTS: _events([*recorded, *central.store.read_stream(infraction_stream(infraction.infraction_id))]),
    }
    image = _image(central, conn, infraction, infraction.event_id, infraction.image_sha256)
    if image is not None:
        members[bundle.EVIDENCE] = image
    return members


def _section_members(central: Central, conn: Connection, infraction: InfractionDetail) -> dict[str, bytes]:
    entry, exit = infraction.entry_device_message, infraction.device_message
    section = load_section(central.store, str(infraction.section_id)) if infraction.section_id else None
    if entry is None or section is None:
        raise Conflict(f"section {infraction.section_id} of infraction {infraction.infraction_id} is no longer known")
    members = {
        bundle.SECTION: bundle.json_member(
            {
                "section_id": section.section_id,
                "entry_radar_id": section.entry_radar_id,
                "exit_radar_id": section.exit_radar_id,
                "distance_m": section.distance_m,
                # The first limit also covers what came before it (as a radar's first limit does).
                "speed_limits": [
                    {"from_ms": start, "speed_limit_kmh": limit}
                    for start, limit in zip(section.speed_limits.starts_ms, section.speed_limits.values, strict=True)
                ],
                "exit_at_ms": exit["passed_at_ms"],
                "speed_limit_kmh": section.speed_limit_at(int(exit["passed_at_ms"])),
            }
        ),
        bundle.EVENTS: _events(central.store.read_stream(infraction_stream(infraction.infraction_id))),
    }
    for signed, message in ((bundle.ENTRY, entry), (bundle.EXIT, exit)):
        radar, members[signed.radar_key] = _radar_key(central, str(message["radar_id"]), str(message["key_id"]))
        members[signed.metrology] = _metrology(radar, PASSAGE, message)
        # The infraction's copy is the parsed message; its canonical bytes are what the radar signed.
        members[signed.message] = canonical.dumps(message)
        image = _image(central, conn, infraction, str(message["event_id"]), str(message["image_sha256"]))
        if image is not None:
            members[signed.evidence] = image
    return members


def _radar_key(central: Central, radar_id: str, key_id: str) -> tuple[RadarState, bytes]:
    """The radar and the `radar-key.json` document of its key `key_id`; Conflict when either is unknown."""
    radar = load_radar(central.store, radar_id)
    key = radar.key(key_id) if radar is not None else None
    if radar is None or key is None:
        raise Conflict(f"radar {radar_id} or its key {key_id} is no longer known")
    document = {
        "radar_id": radar.radar_id,
        "key_id": key.key_id,
        "public_key": keys.b64encode(key.public_key),
        "added_at_ms": key.added_at_ms,
        # The key registered with the radar also covers what it measured before central knew it,
        # as its first speed limit does; a rotated key is valid from when it was added.
        "valid_from_ms": None if key.key_id == radar.keys[0].key_id else key.added_at_ms,
        "valid_until_ms": key.revoked_at_ms,
    }
    return radar, bundle.json_member(document)


def _metrology(radar: RadarState, kind: SignedKind, message: Mapping[str, Any]) -> bytes:
    """The radar's periodic verification in force when it made `message` (its `kind.time_field`), and every
    certificate it has."""
    at_ms = int(message[kind.time_field])
    in_force = radar.verification_at(at_ms)
    return bundle.json_member(
        {
            "radar_id": radar.radar_id,
            kind.time_field: at_ms,
            "in_force": in_force.fields() if in_force is not None else None,
            "records": [record.fields() for record in radar.metrology],
        }
    )


def _image(
    central: Central, conn: Connection, infraction: InfractionDetail, event_id: str, image_sha256: str
) -> bytes | None:
    """The JPEG the message `event_id` signed (None when it signed none); Conflict while it has not arrived."""
    evidence = evidence_for_violation(conn, event_id, now_ms=central.clock())
    if image_sha256 and evidence.content is None:
        raise Conflict(
            f"the evidence image of infraction {infraction.infraction_id} (message {event_id}) "
            f"has not arrived ({evidence.status})"
        )
    return evidence.content


def _events(events: list[RecordedEvent]) -> bytes:
    return bundle.json_member([_event(recorded) for recorded in sorted(events, key=_position)])


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
