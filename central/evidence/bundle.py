"""The evidence export's format (docs/evidence.md): member names, JSON layout and the signed manifest.

One zip; every member's SHA-256 is listed in `manifest.json`, which is canonical JSON (CONTRACT §1)
signed with central's config-signing key, like a radar config. Used by the export and by `speedledger verify`.
The manifest's `kind` says which members to expect: a spot infraction's one violation, or a section
infraction's two passages and its section.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from speedledger.central.infractions.domain import InfractionKind

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

#: A section infraction's two signed passages (CONTRACT §6, canonical JSON with `sig`), their images and
#: the two radars' keys, each as VIOLATION, EVIDENCE and RADAR_KEY are for a violation.
ENTRY_PASSAGE, EXIT_PASSAGE = "entry-passage.json", "exit-passage.json"
ENTRY_EVIDENCE, EXIT_EVIDENCE = "entry-evidence.jpg", "exit-evidence.jpg"
ENTRY_RADAR_KEY, EXIT_RADAR_KEY = "entry-radar-key.json", "exit-radar-key.json"
#: Each radar's metrology at its passage, as METROLOGY is at a violation's detection.
ENTRY_METROLOGY, EXIT_METROLOGY = "entry-metrology.json", "exit-metrology.json"
#: The section: its radars, distance, limit timeline and the limit in force at the exit time.
SECTION = "section.json"


@dataclass(frozen=True)
class Signed:
    """Where one signed device message sits in an export, with its image, the radar key that signed it and
    the radar's metrology."""

    #: "" for a violation, "entry " / "exit " for a section's passages: the prefix of its check names.
    role: str
    message: str
    evidence: str
    radar_key: str
    metrology: str


VIOLATION_SIGNED = Signed("", VIOLATION, EVIDENCE, RADAR_KEY, METROLOGY)
ENTRY = Signed("entry ", ENTRY_PASSAGE, ENTRY_EVIDENCE, ENTRY_RADAR_KEY, ENTRY_METROLOGY)
EXIT = Signed("exit ", EXIT_PASSAGE, EXIT_EVIDENCE, EXIT_RADAR_KEY, EXIT_METROLOGY)

_COMMON = (EVENTS, FINE_SCHEDULE, CENTRAL_KEY)
#: Every member but the manifest, by the manifest's `kind`; EVIDENCE is optional (a passage always has an image).
MEMBERS = {
    InfractionKind.SPOT: (VIOLATION, EVIDENCE, RADAR_KEY, METROLOGY, *_COMMON),
    InfractionKind.SECTION: (
        ENTRY_PASSAGE,
        ENTRY_EVIDENCE,
        ENTRY_RADAR_KEY,
        ENTRY_METROLOGY,
        EXIT_PASSAGE,
        EXIT_EVIDENCE,
        EXIT_RADAR_KEY,
        EXIT_METROLOGY,
        SECTION,
        *_COMMON,
    ),
}
OPTIONAL = frozenset({EVIDENCE})


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def json_member(document: Any) -> bytes:
    """Readable, stable JSON for the members that are not signed on their own."""
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode()


def manifest_body(
    members: Mapping[str, bytes], kind: InfractionKind, infraction_id: str, event_id: str, exported_at_ms: int
) -> dict[str, Any]:
    """What central signs: the format, the infraction and its kind, and each member's SHA-256."""
    return {
        "format": FORMAT,
        "v": VERSION,
        "kind": kind.value,
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
