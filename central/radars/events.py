"""Events of the radars context, all in stream `radar-{radar_id}`."""

from __future__ import annotations

from dataclasses import dataclass

from speedledger.central.messages import Event, EventTypes


@dataclass(frozen=True)
class RadarRegistered(Event, type_name="RadarRegistered"):
    radar_id: str
    name: str
    latitude: float
    longitude: float
    speed_limit_kmh: int
    public_key: str
    key_id: str
    registered_at_ms: int


@dataclass(frozen=True)
class RadarDetailsChanged(Event, type_name="RadarDetailsChanged"):
    radar_id: str
    name: str
    latitude: float
    longitude: float
    changed_at_ms: int


@dataclass(frozen=True)
class SpeedLimitChanged(Event, type_name="SpeedLimitChanged"):
    radar_id: str
    speed_limit_kmh: int
    previous_speed_limit_kmh: int
    effective_at_ms: int


@dataclass(frozen=True)
class RadarStatusChanged(Event, type_name="RadarStatusChanged"):
    radar_id: str
    status: str
    previous_status: str
    effective_at_ms: int


@dataclass(frozen=True)
class RadarKeyAdded(Event, type_name="RadarKeyAdded"):
    radar_id: str
    key_id: str
    public_key: str
    added_at_ms: int


@dataclass(frozen=True)
class RadarKeyRevoked(Event, type_name="RadarKeyRevoked"):
    radar_id: str
    key_id: str
    reason: str
    revoked_at_ms: int


@dataclass(frozen=True)
class MetrologyRecorded(Event, type_name="MetrologyRecorded"):
    """A type-approval or periodic-verification certificate (fields as `radars.metrology.MetrologyRecord`)."""

    radar_id: str
    kind: str
    approval_number: str
    verifying_body: str
    verified_at_ms: int
    valid_until_ms: int
    certificate_sha256: str
    recorded_at_ms: int


RADAR_EVENTS = EventTypes(
    [
        RadarRegistered,
        RadarDetailsChanged,
        SpeedLimitChanged,
        RadarStatusChanged,
        RadarKeyAdded,
        RadarKeyRevoked,
        MetrologyRecorded,
    ]
)


def radar_stream(radar_id: str) -> str:
    return f"radar-{radar_id}"
