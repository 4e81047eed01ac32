"""Offline check of an evidence export: nothing but the zip and (optionally pinned) public keys.

Each check names the member it read; the export holds only when none fails. docs/evidence.md
describes the same checks for an auditor without this software.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from speedledger.central.errors import ConfigurationError
from speedledger.central.evidence import bundle
from speedledger.central.infractions.domain import InfractionKind
from speedledger.central.infractions.fines import Fine, FineSchedule
from speedledger.central.ingest.kinds import PASSAGE, VIOLATION, SignedKind
from speedledger.central.ingest.parse import Rejected, decode_signed
from speedledger.central.radars.domain import Timeline
from speedledger.central.radars.metrology import PERIODIC_VERIFICATION, MetrologyRecord
from speedledger.central.sections.decision import passage_time
from speedledger.central.sections.speed import section_speed
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


def verify_export(data: bytes, *, radar_keys: Collection[bytes] = (), central_key: bytes | None = None) -> Report:
    """Every check on the export `data`; `radar_keys`/`central_key` (raw 32 bytes each) pin the keys to trust
    (a section infraction is signed by two radars: pin both)."""
    report = Report()
    try:
        members = bundle.read_zip(data)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as error:
        report.add("archive", False, f"not a readable zip: {error}")
        return report
    kind = _step(report, lambda: _manifest(members, report, central_key))
    if kind is None:  # no readable manifest: check what the zip holds
        kind = InfractionKind.SECTION if bundle.EXIT_PASSAGE in members else InfractionKind.SPOT
    content = _section if kind is InfractionKind.SECTION else _violation
    _step(report, lambda: content(members, report, frozenset(radar_keys)))
    return report


def _step(report: Report, step: Callable[[], InfractionKind | None]) -> InfractionKind | None:
    try:
        return step()
    except _Broken as broken:
        report.add(str(broken.args[0]), False, str(broken.args[1]))
    except (KeyError, TypeError, ValueError, AttributeError) as error:  # a member altered past its hash
        report.add("export content", False, f"unexpected content: {error!r}")
    return None


def _manifest(members: Mapping[str, bytes], report: Report, pinned: bytes | None) -> InfractionKind:
    """The manifest's checks; the kind of infraction it declares (`spot` when absent, as before sections)."""
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
    kind = _parsed(bundle.MANIFEST, lambda: InfractionKind(manifest.get("kind", InfractionKind.SPOT)))
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
    for name in bundle.MEMBERS[kind]:
        if name not in listed and name not in bundle.OPTIONAL:
            report.add(f"member {name}", False, f"required in a {kind.value} export but not in the manifest")
    return kind


def _violation(members: Mapping[str, bytes], report: Report, pinned: frozenset[bytes]) -> None:
    message = _device_message(members, report, pinned, bundle.VIOLATION_SIGNED, VIOLATION, "detection")
    _metrology(members, message, bundle.VIOLATION_SIGNED, VIOLATION, report)
    _decision(members, message, report)


def _device_message(
    members: Mapping[str, bytes],
    report: Report,
    pinned: frozenset[bytes],
    signed: bundle.Signed,
    kind: SignedKind,
    moment: str,
) -> dict[str, Any]:
    """The checks of one signed message (form, radar key, signature, image); the message."""
    raw = _member(members, signed.message)
    try:
        message = decode_signed(raw, kind)
    except Rejected as rejected:
        raise _Broken(signed.message, f"not a v1 {kind.name} message: {rejected}") from None
    if canonical_bytes(message) == raw:
        report.add(f"{signed.message} canonical", True, "the bytes as received are canonical JSON (CONTRACT §1)")
    else:
        report.skip(
            f"{signed.message} canonical",
            "the radar sent other spacing or order; its signature covers the canonical form",
        )
    at_ms = message[kind.time_field]
    key_doc = _json(signed.radar_key, _member(members, signed.radar_key))
    public = _public_key(signed.radar_key, key_doc)
    report.add(
        f"{signed.role}radar key id",
        keys.key_id(public) == key_doc.get("key_id") == message["key_id"]
        and key_doc.get("radar_id") == message["radar_id"],
        f"{signed.radar_key} key {keys.key_id(public)} of {key_doc.get('radar_id')}, "
        f"{signed.message} signed by {message['key_id']} of {message['radar_id']}",
    )
    if not pinned:
        report.skip(
            f"{signed.role}radar key pinned", f"no --radar-key: using {signed.radar_key} from the export itself"
        )
    else:
        report.add(
            f"{signed.role}radar key pinned", public in pinned, f"{signed.radar_key} holds a key given with --radar-key"
        )
    valid_from, valid_until = key_doc.get("valid_from_ms"), key_doc.get("valid_until_ms")
    report.add(
        f"{signed.role}radar key valid at {moment}",
        (valid_from is None or (isinstance(valid_from, int) and valid_from <= at_ms))
        and (valid_until is None or (isinstance(valid_until, int) and at_ms < valid_until)),
        f"{signed.radar_key} valid from {valid_from} until {valid_until}, {kind.time_field} {at_ms}",
    )
    trusted = (public,) if not pinned or public in pinned else tuple(pinned)
    report.add(
        f"{signed.message} signature",
        any(_signed(key, message) for key in trusted),
        "Ed25519 by the radar over the canonical bytes without `sig`",
    )
    _evidence(members, message, signed, report)
    return message


def _evidence(members: Mapping[str, bytes], message: Mapping[str, Any], signed: bundle.Signed, report: Report) -> None:
    expected = message["image_sha256"]
    if not expected:
        report.add(signed.evidence, signed.evidence not in members, "the radar signed no image")
        return
    image = members.get(signed.evidence)
    digest = bundle.sha256_hex(image) if image is not None else "missing"
    report.add(f"{signed.evidence} hash", digest == expected, f"SHA-256 {digest}, signed {expected}")


def _metrology(
    members: Mapping[str, bytes], message: Mapping[str, Any], signed: bundle.Signed, kind: SignedKind, report: Report
) -> None:
    """The radar that signed `message` had a periodic verification in force when it made it."""
    document = _json(signed.metrology, _member(members, signed.metrology))
    in_force = document.get("in_force")
    name = f"{signed.metrology} verification in force"
    at_ms = message[kind.time_field]
    if not isinstance(in_force, dict):
        report.add(name, False, f"no periodic verification of {message['radar_id']} in force at {kind.time_field}")
        return
    record = _parsed(signed.metrology, lambda: MetrologyRecord.from_fields(in_force))
    report.add(
        name,
        record.kind == PERIODIC_VERIFICATION
        and document.get("radar_id") == message["radar_id"]
        and record.covers(at_ms),
        f"{record.approval_number} by {record.verifying_body}, "
        f"valid {record.verified_at_ms} to {record.valid_until_ms}, certificate SHA-256 {record.certificate_sha256}",
    )


def _decision(members: Mapping[str, bytes], message: Mapping[str, Any], report: Report) -> None:
    events = _json(bundle.EVENTS, _member(members, bundle.EVENTS), list)
    recorded = [event.get("data", {}).get("message") for event in events if event.get("type") == "ViolationRecorded"]
    report.add(f"{bundle.EVENTS} violation", recorded == [dict(message)], "ViolationRecorded holds the same message")
    issued = _issued(events)
    same = ("event_id", "radar_id", "seq", "detected_at_ms", "measured_speed_ckmh")
    report.add(
        f"{bundle.EVENTS} decision",
        all(issued.get(name) == message[name] for name in same),
        "InfractionIssued is about this violation (" + ", ".join(same) + ")",
    )
    schedule = _schedule(members, issued, report)
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
    _fine(report, issued, limit, retained, schedule.fine(limit, retained - limit))


def _section(members: Mapping[str, bytes], report: Report, pinned: frozenset[bytes]) -> None:
    """Both passages as a violation's message is checked (with each radar's metrology), the section, and the
    average speed recomputed."""
    entry = _device_message(members, report, pinned, bundle.ENTRY, PASSAGE, "passage")
    exit = _device_message(members, report, pinned, bundle.EXIT, PASSAGE, "passage")
    for signed, message in ((bundle.ENTRY, entry), (bundle.EXIT, exit)):
        _metrology(members, message, signed, PASSAGE, report)
    section = _json(bundle.SECTION, _member(members, bundle.SECTION))
    report.add(
        f"{bundle.SECTION} radars",
        (section.get("entry_radar_id"), section.get("exit_radar_id")) == (entry["radar_id"], exit["radar_id"]),
        f"section {section.get('section_id')} from {section.get('entry_radar_id')} to {section.get('exit_radar_id')}, "
        f"passages at {entry['radar_id']} then {exit['radar_id']}",
    )
    report.add(
        "same vehicle",
        entry["plate"] == exit["plate"],
        f"plate {entry['plate']} at the entry, {exit['plate']} at the exit",
    )
    limits = _parsed(
        bundle.SECTION,
        lambda: Timeline(
            tuple(int(period["from_ms"]) for period in section["speed_limits"]),
            tuple(int(period["speed_limit_kmh"]) for period in section["speed_limits"]),
        ),
    )
    exit_at_ms = exit["passed_at_ms"]
    limit = _parsed(bundle.SECTION, lambda: int(limits.at(exit_at_ms)))
    events = _json(bundle.EVENTS, _member(members, bundle.EVENTS), list)
    issued = _issued(events)
    report.add(
        f"{bundle.SECTION} limit in force",
        limit == section.get("speed_limit_kmh") == issued.get("speed_limit_kmh"),
        f"{limit} km/h from the section's limits at the exit ({exit_at_ms}); {bundle.SECTION} says "
        f"{section.get('speed_limit_kmh')}, the infraction {issued.get('speed_limit_kmh')}",
    )
    report.add(
        f"{bundle.EVENTS} passages",
        (issued.get("entry_message"), issued.get("exit_message")) == (entry, exit),
        f"InfractionIssued holds the same two passages as {bundle.ENTRY_PASSAGE} and {bundle.EXIT_PASSAGE}",
    )
    facts = {
        "section_id": section.get("section_id"),
        "entry_event_id": entry["event_id"],
        "exit_event_id": exit["event_id"],
        "event_id": exit["event_id"],
        "radar_id": exit["radar_id"],
        "seq": exit["seq"],
        "detected_at_ms": exit_at_ms,
        "plate": exit["plate"],
    }
    report.add(
        f"{bundle.EVENTS} decision",
        all(issued.get(name) == value for name, value in facts.items()),
        "InfractionIssued is about this pair, charged at the exit (" + ", ".join(facts) + ")",
    )
    schedule = _schedule(members, issued, report)
    distance_m = _parsed(bundle.SECTION, lambda: int(section["distance_m"]))
    entry_time, exit_time = passage_time(entry), passage_time(exit)
    try:
        speed = section_speed(distance_m, limit, entry_time, exit_time, schedule)
    except ValueError as error:
        raise _Broken("average speed", f"{error}") from None
    report.add(
        "average speed",
        (speed.average_speed_kmh, speed.average_speed_kmh * 100)
        == (issued.get("average_speed_kmh"), issued.get("measured_speed_ckmh")),
        f"{distance_m} m ({bundle.SECTION}) from {entry_time.at_ms} ± {entry_time.uncertainty_ms} ms to "
        f"{exit_time.at_ms} ± {exit_time.uncertainty_ms} ms, the interval lengthened by both uncertainties: "
        f"{speed.average_speed_kmh} km/h, infraction says {issued.get('average_speed_kmh')}",
    )
    report.add(
        "retained speed",
        speed.retained_speed_kmh == issued.get("retained_speed_kmh"),
        f"{speed.average_speed_kmh} km/h average gives {speed.retained_speed_kmh} km/h, "
        f"infraction says {issued.get('retained_speed_kmh')}",
    )
    if speed.fine is None:
        report.add("fine", False, f"retained {speed.retained_speed_kmh} km/h does not exceed the limit {limit}")
        return
    _fine(report, issued, limit, speed.retained_speed_kmh, speed.fine)


def _issued(events: list[Any]) -> dict[str, Any]:
    issued = next((event.get("data") for event in events if event.get("type") == "InfractionIssued"), None)
    if not isinstance(issued, dict):
        raise _Broken(bundle.EVENTS, "no InfractionIssued event")
    return issued


def _schedule(members: Mapping[str, bytes], issued: Mapping[str, Any], report: Report) -> FineSchedule:
    """The exported fine schedule, checked to be the one the infraction was decided with."""
    schedule: FineSchedule = _parsed(
        bundle.FINE_SCHEDULE,
        lambda: FineSchedule.from_dict(_json(bundle.FINE_SCHEDULE, _member(members, bundle.FINE_SCHEDULE))),
    )
    report.add(
        f"{bundle.FINE_SCHEDULE} name",
        schedule.name == issued.get("fine_schedule"),
        f"schedule {schedule.name}, infraction decided with {issued.get('fine_schedule')}",
    )
    return schedule


def _fine(report: Report, issued: Mapping[str, Any], limit: int, retained: int, fine: Fine) -> None:
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
    except (LookupError, TypeError, ValueError, ConfigurationError) as error:
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
