"""Metrology records of a radar (pure): type approval and periodic verification certificates.

A radar's measurement is legal evidence only while a periodic verification is in force: its
`verified_at_ms <= t < valid_until_ms`. Type-approval records (of the radar's model) are kept and
exported beside it; they do not decide anything on their own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from speedledger.central.errors import Invalid
from speedledger.shared import violation

TYPE_APPROVAL = "type_approval"
PERIODIC_VERIFICATION = "periodic_verification"
KINDS = (TYPE_APPROVAL, PERIODIC_VERIFICATION)
MAX_TEXT = 200
DAY_MS = 86_400_000


@dataclass(frozen=True)
class MetrologyRecord:
    """One certificate: what it approves or verifies, who signed it, when, until when, and its document's hash."""

    kind: str
    approval_number: str
    verifying_body: str
    verified_at_ms: int
    valid_until_ms: int
    #: Lowercase hex SHA-256 of the certificate document (the PDF or scan the body issued).
    certificate_sha256: str

    def covers(self, at_ms: int) -> bool:
        return self.verified_at_ms <= at_ms < self.valid_until_ms

    def fields(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_fields(cls, data: Mapping[str, Any]) -> MetrologyRecord:
        """The record from a mapping holding at least its fields (an event's data, a table row)."""
        return cls(**{field.name: data[field.name] for field in dataclasses.fields(cls)})


def checked(record: MetrologyRecord, now_ms: int) -> MetrologyRecord:
    """The record with its texts stripped; Invalid for a bad kind, text, period or hash."""
    if record.kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}")
    texts = {"approval_number": record.approval_number.strip(), "verifying_body": record.verifying_body.strip()}
    for name, text in texts.items():
        if not 1 <= len(text) <= MAX_TEXT:
            raise Invalid(f"{name} must have 1 to {MAX_TEXT} characters")
    if not violation.is_sha256_hex(record.certificate_sha256):
        raise Invalid("certificate_sha256 must be 64 lowercase hex characters")
    if record.verified_at_ms >= record.valid_until_ms:
        raise Invalid("valid_until_ms must be after verified_at_ms")
    if record.verified_at_ms > now_ms:
        raise Invalid("verified_at_ms cannot be in the future: record a certificate once it is issued")
    return MetrologyRecord(
        kind=record.kind,
        approval_number=texts["approval_number"],
        verifying_body=texts["verifying_body"],
        verified_at_ms=record.verified_at_ms,
        valid_until_ms=record.valid_until_ms,
        certificate_sha256=record.certificate_sha256,
    )


def verification_in_force(records: Iterable[MetrologyRecord], at_ms: int) -> MetrologyRecord | None:
    """The periodic verification covering `at_ms` (the most recent one if several do), or None."""
    covering = [record for record in records if record.kind == PERIODIC_VERIFICATION and record.covers(at_ms)]
    return max(covering, key=lambda record: record.verified_at_ms, default=None)
