"""Radar decisions (pure): validate commands against the radar's state and return the events to append.

A radar keeps timelines of its speed limit and status, so decisions about a violation use the
values in force at its detection time, whatever changed later.
"""

from __future__ import annotations

import bisect
import functools
import math
import re
from dataclasses import dataclass, replace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from speedledger.central.errors import Conflict, Invalid, NotFound
from speedledger.central.messages import Event
from speedledger.central.radars import metrology
from speedledger.central.radars.commands import (
    RADAR_STATUSES,
    RecordMetrology,
    RegisterRadar,
    RevokeRadarKey,
    RotateRadarKey,
    UpdateRadar,
)
from speedledger.central.radars.events import (
    MetrologyRecorded,
    RadarDetailsChanged,
    RadarKeyAdded,
    RadarKeyRevoked,
    RadarRegistered,
    RadarStatusChanged,
    SpeedLimitChanged,
)
from speedledger.central.radars.metrology import MetrologyRecord
from speedledger.edge.core import ed25519
from speedledger.shared import keys

RADAR_ID = re.compile(r"[A-Za-z0-9-]{1,32}")
MIN_LIMIT_KMH = 5
MAX_LIMIT_KMH = 250


@dataclass(frozen=True)
class RadarKey:
    key_id: str
    public_key: bytes
    added_at_ms: int
    revoked_at_ms: int | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at_ms is not None

    def verifier(self) -> Ed25519PublicKey:
        return self.verifier_for(self.public_key)

    @staticmethod
    @functools.lru_cache(maxsize=4096)
    def verifier_for(public_key: bytes) -> Ed25519PublicKey:
        """The key's verifier (cached per key); ValueError (a signature error) for a small-order or
        non-canonical key, which radars registered before central refused them may still hold: with
        it a forgery verifies."""
        ed25519.check_public_key(public_key)
        return Ed25519PublicKey.from_public_bytes(public_key)


@dataclass(frozen=True)
class Timeline:
    """Values from given instants on; the first value also covers everything before it."""

    starts_ms: tuple[int, ...]
    values: tuple[str | int, ...]

    def at(self, at_ms: int) -> str | int:
        index = bisect.bisect_right(self.starts_ms, at_ms) - 1
        return self.values[max(index, 0)]

    @property
    def current(self) -> str | int:
        return self.values[-1]

    @property
    def last_change_ms(self) -> int:
        return self.starts_ms[-1]

    def then(self, from_ms: int, value: str | int) -> Timeline:
        # A change at the same instant as the last one supersedes it.
        keep = len(self.starts_ms) - 1 if from_ms == self.starts_ms[-1] else len(self.starts_ms)
        return Timeline((*self.starts_ms[:keep], from_ms), (*self.values[:keep], value))


@dataclass(frozen=True)
class RadarState:
    radar_id: str
    name: str
    latitude: float
    longitude: float
    speed_limits: Timeline
    statuses: Timeline
    keys: tuple[RadarKey, ...]
    registered_at_ms: int
    metrology: tuple[MetrologyRecord, ...] = ()

    @property
    def speed_limit_kmh(self) -> int:
        """The limit in force now (the latest change)."""
        return int(self.speed_limits.current)

    @property
    def status(self) -> str:
        return str(self.statuses.current)

    def speed_limit_at(self, at_ms: int) -> int:
        return int(self.speed_limits.at(at_ms))

    def status_at(self, at_ms: int) -> str:
        return str(self.statuses.at(at_ms))

    def key(self, key_id: str) -> RadarKey | None:
        return next((key for key in self.keys if key.key_id == key_id), None)

    def verification_at(self, at_ms: int) -> MetrologyRecord | None:
        """The periodic verification in force at `at_ms`, or None (its measurements are then no evidence)."""
        return metrology.verification_in_force(self.metrology, at_ms)

    @property
    def active_keys(self) -> tuple[RadarKey, ...]:
        return tuple(key for key in self.keys if not key.revoked)


def evolve(state: RadarState | None, event: Event) -> RadarState:
    if isinstance(event, RadarRegistered):
        return RadarState(
            radar_id=event.radar_id,
            name=event.name,
            latitude=event.latitude,
            longitude=event.longitude,
            speed_limits=Timeline((event.registered_at_ms,), (event.speed_limit_kmh,)),
            statuses=Timeline((event.registered_at_ms,), ("active",)),
            keys=(RadarKey(event.key_id, keys.b64decode(event.public_key), event.registered_at_ms),),
            registered_at_ms=event.registered_at_ms,
        )
    if state is None:
        raise ValueError(f"{event.type} before RadarRegistered")
    match event:
        case RadarDetailsChanged():
            return replace(state, name=event.name, latitude=event.latitude, longitude=event.longitude)
        case SpeedLimitChanged():
            return replace(state, speed_limits=state.speed_limits.then(event.effective_at_ms, event.speed_limit_kmh))
        case RadarStatusChanged():
            return replace(state, statuses=state.statuses.then(event.effective_at_ms, event.status))
        case RadarKeyAdded():
            added = RadarKey(event.key_id, keys.b64decode(event.public_key), event.added_at_ms)
            return replace(state, keys=(*state.keys, added))
        case RadarKeyRevoked():
            revoked = tuple(
                replace(key, revoked_at_ms=event.revoked_at_ms) if key.key_id == event.key_id else key
                for key in state.keys
            )
            return replace(state, keys=revoked)
        case MetrologyRecorded():
            return replace(state, metrology=(*state.metrology, MetrologyRecord.from_fields(event.data())))
    return state


def register(command: RegisterRadar, state: RadarState | None, now_ms: int) -> list[Event]:
    if not RADAR_ID.fullmatch(command.radar_id):
        raise Invalid("radar_id must match [A-Za-z0-9-]{1,32}")
    if state is not None:
        raise Conflict(f"radar {command.radar_id} is already registered")
    name = _name(command.name)
    _position(command.latitude, command.longitude)
    check_speed_limit(command.speed_limit_kmh)
    raw = parse_public_key(command.public_key)
    records = [_metrology_recorded(command.radar_id, record, now_ms) for record in command.metrology]
    return [
        RadarRegistered(
            radar_id=command.radar_id,
            name=name,
            latitude=float(command.latitude),
            longitude=float(command.longitude),
            speed_limit_kmh=command.speed_limit_kmh,
            public_key=keys.b64encode(raw),
            key_id=keys.key_id(raw),
            registered_at_ms=now_ms,
        ),
        *records,
    ]


def update(command: UpdateRadar, state: RadarState | None, now_ms: int) -> list[Event]:
    radar = _existing(state, command.radar_id)
    effective_at_ms = now_ms if command.effective_at_ms is None else command.effective_at_ms
    events: list[Event] = []
    name = radar.name if command.name is None else _name(command.name)
    latitude = radar.latitude if command.latitude is None else command.latitude
    longitude = radar.longitude if command.longitude is None else command.longitude
    _position(latitude, longitude)
    if (name, latitude, longitude) != (radar.name, radar.latitude, radar.longitude):
        events.append(
            RadarDetailsChanged(
                radar_id=radar.radar_id,
                name=name,
                latitude=float(latitude),
                longitude=float(longitude),
                changed_at_ms=now_ms,
            )
        )
    if command.speed_limit_kmh is not None and command.speed_limit_kmh != radar.speed_limit_kmh:
        check_speed_limit(command.speed_limit_kmh)
        check_effective_at(effective_at_ms, radar.speed_limits, now_ms)
        events.append(
            SpeedLimitChanged(
                radar_id=radar.radar_id,
                speed_limit_kmh=command.speed_limit_kmh,
                previous_speed_limit_kmh=radar.speed_limit_kmh,
                effective_at_ms=effective_at_ms,
            )
        )
    if command.status is not None and command.status != radar.status:
        if command.status not in RADAR_STATUSES:
            raise Invalid(f"status must be one of {', '.join(RADAR_STATUSES)}")
        check_effective_at(effective_at_ms, radar.statuses, now_ms)
        events.append(
            RadarStatusChanged(
                radar_id=radar.radar_id,
                status=command.status,
                previous_status=radar.status,
                effective_at_ms=effective_at_ms,
            )
        )
    return events


def rotate_key(command: RotateRadarKey, state: RadarState | None, now_ms: int) -> list[Event]:
    radar = _existing(state, command.radar_id)
    raw = parse_public_key(command.public_key)
    key_id = keys.key_id(raw)
    if radar.key(key_id) is not None:
        raise Conflict(f"key {key_id} is already known for radar {radar.radar_id}")
    return [RadarKeyAdded(radar_id=radar.radar_id, key_id=key_id, public_key=keys.b64encode(raw), added_at_ms=now_ms)]


def revoke_key(command: RevokeRadarKey, state: RadarState | None, now_ms: int) -> list[Event]:
    radar = _existing(state, command.radar_id)
    key = radar.key(command.key_id)
    if key is None:
        raise NotFound(f"radar {radar.radar_id} has no key {command.key_id}")
    if key.revoked:
        raise Conflict(f"key {command.key_id} is already revoked")
    return [RadarKeyRevoked(radar_id=radar.radar_id, key_id=key.key_id, reason=command.reason, revoked_at_ms=now_ms)]


def record_metrology(command: RecordMetrology, state: RadarState | None, now_ms: int) -> list[Event]:
    radar = _existing(state, command.radar_id)
    return [_metrology_recorded(radar.radar_id, command.record, now_ms)]


def _metrology_recorded(radar_id: str, record: MetrologyRecord, now_ms: int) -> MetrologyRecorded:
    return MetrologyRecorded(radar_id=radar_id, **metrology.checked(record, now_ms).fields(), recorded_at_ms=now_ms)


def parse_public_key(text: str) -> bytes:
    """Raw 32 bytes of a standard-base64 Ed25519 public key; Invalid otherwise.

    Non-canonical encodings and small-order points ([8]A = identity) are refused: with such a key a
    forged signature (small-order R, S = 0) verifies for any message. The check uses the portable
    Ed25519 module, the project's one implementation of the curve arithmetic (`cryptography` has none).
    """
    try:
        raw = keys.b64decode(text)
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as error:
        raise Invalid("public_key must be the standard base64 of a raw 32-byte Ed25519 public key") from error
    try:
        ed25519.check_public_key(raw)
    except ed25519.SignatureError as error:
        raise Invalid(f"public_key is not a usable Ed25519 key: {error}") from error
    return raw


def _existing(state: RadarState | None, radar_id: str) -> RadarState:
    if state is None:
        raise NotFound(f"radar {radar_id} is not registered")
    return state


def _name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise Invalid("name must have 1 to 200 characters")
    return name


def _position(latitude: float, longitude: float) -> None:
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        raise Invalid("latitude and longitude must be finite numbers")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise Invalid("latitude must be within ±90 and longitude within ±180 degrees")


def check_speed_limit(speed_limit_kmh: int) -> None:
    """Invalid unless a whole number of km/h within what radars and sections accept."""
    if isinstance(speed_limit_kmh, bool) or not isinstance(speed_limit_kmh, int):
        raise Invalid("speed_limit_kmh must be an integer")
    if not MIN_LIMIT_KMH <= speed_limit_kmh <= MAX_LIMIT_KMH:
        raise Invalid(f"speed_limit_kmh must be between {MIN_LIMIT_KMH} and {MAX_LIMIT_KMH}")


def check_effective_at(effective_at_ms: int, timeline: Timeline, now_ms: int) -> None:
    """A change to `timeline` may not take effect in the future nor before its last change."""
    if effective_at_ms > now_ms:
        raise Invalid("effective_at_ms cannot be in the future")
    if effective_at_ms < timeline.last_change_ms:
        raise Conflict("effective_at_ms is before the previous change; history is never rewritten")
