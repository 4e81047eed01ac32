"""Commands of the radars context. Results of `MessageBus.handle` are given per command."""

from __future__ import annotations

from dataclasses import dataclass

from speedledger.central.messages import Command
from speedledger.central.radars.metrology import MetrologyRecord

#: Values of a radar's `status`. Violations detected while a radar is not `active` give no infraction.
RADAR_STATUSES = ("active", "inactive")


@dataclass(frozen=True)
class RegisterRadar(Command):
    """Register a radar with its first signing key (standard base64 of the raw 32-byte Ed25519 key).

    `metrology`: certificates to record with it (as `RecordMetrology`); without a periodic verification in
    force its violations are dismissed (`radar_not_verified`).
    Result: the radar_id. Conflict when the radar exists; Invalid for a bad id, position, limit, key or record.
    """

    radar_id: str
    name: str
    latitude: float
    longitude: float
    speed_limit_kmh: int
    public_key: str
    metrology: tuple[MetrologyRecord, ...] = ()


@dataclass(frozen=True)
class UpdateRadar(Command):
    """Change any of name, position, speed limit and status (None = unchanged); backs `PATCH /radars/{id}`.

    A limit or status change takes effect at `effective_at_ms` (default now; never in the future and never
    before the previous change), so violations detected earlier keep the limit of their time. Result: None.
    """

    radar_id: str
    name: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    speed_limit_kmh: int | None = None
    status: str | None = None
    effective_at_ms: int | None = None


@dataclass(frozen=True)
class RotateRadarKey(Command):
    """Add a new signing key. Older keys stay valid until revoked (messages still in a radar's journal).

    Result: the new key_id. Conflict when the key is already known for this radar.
    """

    radar_id: str
    public_key: str


@dataclass(frozen=True)
class RevokeRadarKey(Command):
    """Revoke a key: ingest rejects new messages signed with it, stored evidence still verifies.

    Result: None. NotFound for an unknown key, Conflict when already revoked.
    """

    radar_id: str
    key_id: str
    reason: str = ""


@dataclass(frozen=True)
class RecordMetrology(Command):
    """Record a type-approval or periodic-verification certificate (back-dating allowed, never the future).

    Result: None. NotFound for an unknown radar; Invalid for a bad record.
    """

    radar_id: str
    record: MetrologyRecord
