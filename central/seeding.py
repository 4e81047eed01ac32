"""Seed central from a JSON document, through the message bus, re-runnably (demos, staging, scripts).

```json
{"radars":   [{"radar_id": "FR-A6-012", "name": "A6 PK 12", "latitude": 48.6, "longitude": 2.4,
               "speed_limit_kmh": 90, "public_key": "<base64>"  or  "key_file": "radar.pem",
               "metrology": [{"kind": "periodic_verification", "approval_number": "...",
                              "verifying_body": "...", "verified_at_ms": 0, "valid_until_ms": 0,
                              "certificate_sha256": "<hex>"}]}],
 "owners":   [{"owner_id": "<uuid>", "name": "...", "birth_date": "1980-04-01", "email": "..."}],
 "vehicles": [{"plate": "GZ-123-QK", "brand": "Renault", "model": "Clio", "fiscal_power": 5,
               "owner_id": "<uuid>", "registered_at_ms": 0}],
 "violations": [{...signed violation message...}]}
```

`key_file` is a private key from `speedledger keys generate` (relative to the seed file); only its
public half is used. Anything already there (same radar_id, owner_id, plate, event_id) is counted
as existing and left unchanged, so a seed can run on every start.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from speedledger.central.errors import Conflict, Invalid
from speedledger.central.infractions.commands import RecordViolation
from speedledger.central.messagebus import MessageBus
from speedledger.central.messages import Command
from speedledger.central.radars.commands import RegisterRadar
from speedledger.central.radars.metrology import MetrologyRecord
from speedledger.central.registration.commands import RegisterOwner, RegisterVehicle
from speedledger.shared import keys

SECTIONS = ("radars", "owners", "vehicles", "violations")


def public_key_from_file(path: Path) -> str:
    """Base64 of the raw public key of a PEM PKCS#8 Ed25519 private key file."""
    try:
        private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise Invalid(f"{path}: not a readable PEM PKCS#8 private key ({error})") from error
    if not isinstance(private_key, Ed25519PrivateKey):
        raise Invalid(f"{path}: not an Ed25519 key")
    return keys.b64encode(private_key.public_key().public_bytes_raw())


def _radar(entry: Mapping[str, Any], base: Path) -> Command:
    fields = dict(entry)
    key_file = fields.pop("key_file", None)
    if key_file is not None:
        fields["public_key"] = public_key_from_file(base / key_file)
    fields["metrology"] = tuple(MetrologyRecord(**record) for record in fields.get("metrology", ()))
    return RegisterRadar(**fields, actor="seed")


def _violation(entry: Mapping[str, Any], base: Path) -> Command:
    return RecordViolation(message=dict(entry), actor="seed")


def _builder(command: type[Command]) -> Callable[[Mapping[str, Any], Path], Command]:
    return lambda entry, base: command(**entry, actor="seed")


#: The command each section's entries become (violations are whole signed messages, not fields).
_COMMANDS: dict[str, type[Command]] = {"radars": RegisterRadar, "owners": RegisterOwner, "vehicles": RegisterVehicle}

_BUILDERS: dict[str, Callable[[Mapping[str, Any], Path], Command]] = {
    "radars": _radar,
    "owners": _builder(_COMMANDS["owners"]),
    "vehicles": _builder(_COMMANDS["vehicles"]),
    "violations": _violation,
}


def _check_fields(section: str, index: int, entry: Mapping[str, Any]) -> None:
    """Unknown or missing fields named in the seed's own terms (not as Python's TypeError)."""
    command = _COMMANDS.get(section)
    if command is None:
        return
    known = {field.name for field in fields(command)} - {"actor"} | ({"key_file"} if section == "radars" else set())
    required = {
        field.name
        for field in fields(command)
        if field.default is MISSING and field.default_factory is MISSING and field.name != "actor"
    }
    if section == "radars" and "key_file" in entry:
        required.discard("public_key")
    unknown, missing = sorted(set(entry) - known), sorted(required - set(entry))
    if unknown or missing:
        problems = [f"unknown field {', '.join(unknown)}"] if unknown else []
        problems += [f"missing field {', '.join(missing)}"] if missing else []
        raise Invalid(f"{section}[{index}]: {'; '.join(problems)} (fields: {', '.join(sorted(known))})")


def seed(bus: MessageBus, document: Mapping[str, Any], base: Path = Path()) -> Counter[str]:
    """Apply the document's sections in dependency order; counts `<section> created|existing`.

    Raises Invalid (naming the section and entry) for a malformed entry; NotFound as the bus does.
    """
    unknown = set(document) - set(SECTIONS)
    if unknown:
        raise Invalid(f"unknown seed sections: {', '.join(sorted(unknown))} (known: {', '.join(SECTIONS)})")
    report: Counter[str] = Counter()
    for section in SECTIONS:
        for index, entry in enumerate(document.get(section, [])):
            if not isinstance(entry, Mapping):
                raise Invalid(f"{section}[{index}]: expected an object with the fields of a {section[:-1]}")
            _check_fields(section, index, entry)
            command = _BUILDERS[section](entry, base)
            try:
                result = bus.handle(command)
            except Conflict:
                report[f"{section} existing"] += 1
                continue
            report[f"{section} {'existing' if result == 'duplicate' else 'created'}"] += 1
    return report
