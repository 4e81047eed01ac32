"""The evidence export's format (docs/evidence.md): member names, JSON layout and the signed manifest.

One zip; every member's SHA-256 is listed in `manifest.json`, which is canonical JSON (CONTRACT §1)
signed with central's config-signing key, like a radar config. Used by the export and by `speedledger verify`.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from typing import Any

FORMAT = "speedledger-evidence"
VERSION = 1

MANIFEST = "manifest.json"
#: The device's signed violation message with its `sig`, the bytes as received (canonical JSON from radars that
#: follow CONTRACT §1).
VIOLATION = "violation.json"
#: The evidence JPEG; absent when the radar sent none (`image_sha256` is "").
EVIDENCE = "evidence.jpg"
#: The radar's public key that signed the message, with its key id and validity period.
RADAR_KEY = "radar-key.json"
#: The periodic verification in force at detection time, and every certificate of the radar.
METROLOGY = "metrology.json"
#: The infraction's events from the event log: the recorded violation, the decision, each status change.
EVENTS = "events.json"
#: The fine schedule that recomputes the retained speed and the fine.
FINE_SCHEDULE = "fine-schedule.json"
#: Central's public key (key id and base64); pin it with `--central-key` instead of trusting this copy.
CENTRAL_KEY = "central-key.json"

#: Every member but the manifest; EVIDENCE is optional.
MEMBERS = (VIOLATION, EVIDENCE, RADAR_KEY, METROLOGY, EVENTS, FINE_SCHEDULE, CENTRAL_KEY)
OPTIONAL = frozenset({EVIDENCE})


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def json_member(document: Any) -> bytes:
    """Readable, stable JSON for the members that are not signed on their own."""
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode()


def manifest_body(
    members: Mapping[str, bytes], infraction_id: str, event_id: str, exported_at_ms: int
) -> dict[str, Any]:
    """What central signs: the format, the infraction, and each member's SHA-256."""
    return {
        "format": FORMAT,
        "v": VERSION,
        "infraction_id": infraction_id,
        "event_id": event_id,
        "exported_at_ms": exported_at_ms,
        "members": {name: sha256_hex(content) for name, content in sorted(members.items())},
    }


def write_zip(members: Mapping[str, bytes], manifest: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, manifest)
        for name, content in sorted(members.items()):
            archive.writestr(name, content)
    return buffer.getvalue()


def read_zip(data: bytes) -> dict[str, bytes]:
    """Every member by name; zipfile.BadZipFile (a ValueError-like error) for a damaged archive."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}
