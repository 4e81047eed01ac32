"""Offline check of an evidence export: nothing but the zip and (optionally pinned) public keys.

Each check names the member it read; the export holds only when none fails. docs/evidence.md
describes the same checks for an auditor without this software.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from speedledger.central.errors import ConfigurationError
from speedledger.central.evidence import bundle
from speedledger.central.infractions.fines import FineSchedule
from speedledger.central.ingest.parse import Rejected, decode_violation
from speedledger.central.radars.metrology import PERIODIC_VERIFICATION, MetrologyRecord
from speedledger.shared import canonical, keys

Status = Literal["ok", "fail", "skip"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return bool(self.checks) and all(check.status != "fail" for check in self.checks)

    def add(self, name: str, holds: bool, detail: str) -> bool:
        self.checks.append(Check(name, "ok" if holds else "fail", detail))
        return holds

    def skip(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, "skip", detail))

    def as_dict(self) -> dict[str, Any]:
        return {"verdict": "verified" if self.verified else "failed", "checks": [asdict(c) for c in self.checks]}


class _Broken(Exception):
    """A member cannot be read at all; the checks that need it stop here."""


def verify_export(data: bytes, *, radar_key: bytes | None = None, central_key: bytes | None = None) -> Report:
    """Every check on the export `data`; `radar_key`/`central_key` (raw 32 bytes) pin the keys to trust."""
    report = Report()
    try:
        members = bundle.read_zip(data)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as error:
        report.add("archive", False, f"not a readable zip: {error}")
        return report
    for step in (_manifest, _violation):
        try:
            step(members, report, radar_key, central_key)
        except _Broken as broken:
            report.add(str(broken.args[0]), False, str(broken.args[1]))
        except (KeyError, TypeError, ValueError, AttributeError) as error:  # a member altered past its hash
            report.add("export content", False, f"unexpected content: {error!r}")
    return report


def _manifest(members: Mapping[str, bytes], report: Report, _radar: bytes | None, pinned: bytes | None) -> None:
    raw = _member(members, bundle.MANIFEST)
    manifest = _json(bundle.MANIFEST, raw)
    report.add(f"{bundle.MANIFEST} canonical", canonical_bytes(manifest) == raw, "canonical JSON (CONTRACT §1)")
    if pinned is None:
        public = _public_key(bundle.CENTRAL_KEY, _json(bundle.CENTRAL_KEY, _member(members, bundle.CENTRAL_KEY)))
        report.skip("central key pinned", f"no --central-key: using {bundle.CENTRAL_KEY} from the export itself")
    else:
        public = pinned
    report.add(
        "central key id",
        keys.key_id(public) == manifest.get("key_id"),
        f"manifest signed by key {manifest.get('key_id')}, trusted key is {keys.key_id(public)}",
    )
    report.add(f"{bundle.MANIFEST} signature", _signed(public, manifest), "Ed25519 by central over its canonical bytes")
    listed = manifest.get("members")
    if not isinstance(listed, dict):
        raise _Broken(bundle.MANIFEST, "no members listed")
    for name in sorted(set(listed) | set(members) - {bundle.MANIFEST}):
        if name not in listed:
            report.add(f"member {name}", False, "in the zip but not in the manifest")
        elif name not in members:
            report.add(f"member {name}", False, "listed in the manifest but missing from the zip")
        else:
            digest = bundle.sha256_hex(members[name])
            report.add(f"member {name}", digest == listed[name], f"SHA-256 {digest}")
    for name in bundle.MEMBERS:
        if name not in listed and name not in bundle.OPTIONAL:
            report.add(f"member {name}", False, "required but not in the manifest")


def _violation(members: Mapping[str, bytes], report: Report, pinned: bytes | None, _central: bytes | None) -> None:
    raw = _member(members, bundle.VIOLATION)
    try:
        message = decode_violation(raw)
    except Rejected as rejected:
        raise _Broken(bundle.VIOLATION, f"not a v1 violation message: {rejected}") from None
    if canonical_bytes(message) == raw:
        report.add(f"{bundle.VIOLATION} canonical", True, "the bytes as received are canonical JSON (CONTRACT §1)")
    else:
        report.skip(
            f"{bundle.VIOLATION} canonical",
            "the radar sent other spacing or order; its signature covers the canonical form",
        )
    detected_at_ms = message["detected_at_ms"]
    key_doc = _json(bundle.RADAR_KEY, _member(members, bundle.RADAR_KEY))
    public = _public_key(bundle.RADAR_KEY, key_doc)
    report.add(
        "radar key id",
        keys.key_id(public) == key_doc.get("key_id") == message["key_id"],
        f"{bundle.RADAR_KEY} key {keys.key_id(public)}, {bundle.VIOLATION} signed by {message['key_id']}",
    )
    if pinned is None:
        report.skip("radar key pinned", f"no --radar-key: using {bundle.RADAR_KEY} from the export itself")
    else:
        report.add("radar key pinned", pinned == public, f"{bundle.RADAR_KEY} holds the key given with --radar-key")
    valid_from, valid_until = key_doc.get("valid_from_ms"), key_doc.get("valid_until_ms")
    report.add(
        "radar key valid at detection",
        (valid_from is None or (isinstance(valid_from, int) and valid_from <= detected_at_ms))
        and (valid_until is None or (isinstance(valid_until, int) and detected_at_ms < valid_until)),
        f"{bundle.RADAR_KEY} valid from {valid_from} until {valid_until}, detected at {detected_at_ms}",
    )
    report.add(
        f"{bundle.VIOLATION} signature",
        _signed(pinned or public, message),
        "Ed25519 by the radar over the canonical bytes without `sig`",
    )
    _evidence(members, message, report)
    _metrology(members, message, report)
    _decision(members, message, report)


def _evidence(members: Mapping[str, bytes], message: Mapping[str, Any], report: Report) -> None:
    expected = message["image_sha256"]
    if not expected:
        report.add(bundle.EVIDENCE, bundle.EVIDENCE not in members, "the radar signed no image")
        return
    image = members.get(bundle.EVIDENCE)
    digest = bundle.sha256_hex(image) if image is not None else "missing"
    report.add(f"{bundle.EVIDENCE} hash", digest == expected, f"SHA-256 {digest}, signed {expected}")


def _metrology(members: Mapping[str, bytes], message: Mapping[str, Any], report: Report) -> None:
    document = _json(bundle.METROLOGY, _member(members, bundle.METROLOGY))
    in_force = document.get("in_force")
    name = f"{bundle.METROLOGY} verification in force"
    if not isinstance(in_force, dict):
        report.add(name, False, "no periodic verification in force at detection time")
        return
    record = _parsed(bundle.METROLOGY, lambda: MetrologyRecord.from_fields(in_force))
    report.add(
        name,
        record.kind == PERIODIC_VERIFICATION
        and document.get("radar_id") == message["radar_id"]
        and record.covers(message["detected_at_ms"]),
        f"{record.approval_number} by {record.verifying_body}, "
        f"valid {record.verified_at_ms} to {record.valid_until_ms}, certificate SHA-256 {record.certificate_sha256}",
    )


def _decision(members: Mapping[str, bytes], message: Mapping[str, Any], report: Report) -> None:
    events = _json(bundle.EVENTS, _member(members, bundle.EVENTS), list)
    recorded = [event.get("data", {}).get("message") for event in events if event.get("type") == "ViolationRecorded"]
    issued = next((event.get("data") for event in events if event.get("type") == "InfractionIssued"), None)
    report.add(f"{bundle.EVENTS} violation", recorded == [dict(message)], "ViolationRecorded holds the same message")
    if not isinstance(issued, dict):
        raise _Broken(bundle.EVENTS, "no InfractionIssued event")
    same = ("event_id", "radar_id", "seq", "detected_at_ms", "measured_speed_ckmh")
    report.add(
        f"{bundle.EVENTS} decision",
        all(issued.get(name) == message[name] for name in same),
        "InfractionIssued is about this violation (" + ", ".join(same) + ")",
    )
    schedule = _parsed(
        bundle.FINE_SCHEDULE,
        lambda: FineSchedule.from_dict(_json(bundle.FINE_SCHEDULE, _member(members, bundle.FINE_SCHEDULE))),
    )
    report.add(
        f"{bundle.FINE_SCHEDULE} name",
        schedule.name == issued.get("fine_schedule"),
        f"schedule {schedule.name}, infraction decided with {issued.get('fine_schedule')}",
    )
    retained = schedule.retained_speed_kmh(message["measured_speed_ckmh"])
    report.add(
        "retained speed",
        retained == issued.get("retained_speed_kmh"),
        f"{message['measured_speed_ckmh'] / 100:.2f} km/h measured gives {retained} km/h, "
        f"infraction says {issued.get('retained_speed_kmh')}",
    )
    limit = issued.get("speed_limit_kmh")
    if not isinstance(limit, int) or retained <= limit:
        report.add("fine", False, f"retained {retained} km/h does not exceed the limit {limit}")
        return
    fine = schedule.fine(limit, retained - limit)
    report.add(
        "fine",
        (fine.fine_eur, fine.points) == (issued.get("fine_eur"), issued.get("points")),
        f"{retained - limit} km/h over {limit} gives {fine.fine_eur} EUR and {fine.points} points, "
        f"infraction says {issued.get('fine_eur')} EUR and {issued.get('points')} points",
    )


def canonical_bytes(document: Any) -> bytes | None:
    try:
        return canonical.dumps(document)
    except canonical.CanonicalError:
        return None


def _member(members: Mapping[str, bytes], name: str) -> bytes:
    if name not in members:
        raise _Broken(name, "missing from the zip")
    return members[name]


def _json(name: str, raw: bytes, kind: type = dict) -> Any:
    try:
        document = json.loads(raw.decode())
    except (UnicodeDecodeError, ValueError) as error:
        raise _Broken(name, f"not JSON: {error}") from None
    if not isinstance(document, kind):
        raise _Broken(name, f"not a JSON {kind.__name__}")
    return document


def _parsed(name: str, parse: Callable[[], Any]) -> Any:
    try:
        return parse()
    except (KeyError, TypeError, ValueError, ConfigurationError) as error:
        raise _Broken(name, f"malformed: {error!r}") from None


def _public_key(name: str, document: Mapping[str, Any]) -> bytes:
    raw = _parsed(name, lambda: keys.b64decode(str(document["public_key"])))
    if len(raw) != 32:
        raise _Broken(name, "public_key is not 32 bytes")
    return bytes(raw)


def _signed(public_key: bytes, document: Mapping[str, Any]) -> bool:
    try:
        signature = keys.b64decode(str(document.get("sig", "")))
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, canonical.signing_bytes(dict(document)))
    except (InvalidSignature, ValueError, canonical.CanonicalError):
        return False
    return True
