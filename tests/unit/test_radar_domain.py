"""The radars context's pure decisions and fold, without a store: timelines, keys, validation."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from speedledger.central.errors import Conflict, Invalid, NotFound
from speedledger.central.messages import Event
from speedledger.central.radars import domain
from speedledger.central.radars.commands import RegisterRadar, RevokeRadarKey, RotateRadarKey, UpdateRadar
from speedledger.central.radars.domain import RadarState, Timeline
from speedledger.central.radars.events import (
    RadarDetailsChanged,
    RadarKeyAdded,
    RadarKeyRevoked,
    RadarStatusChanged,
    SpeedLimitChanged,
)
from speedledger.shared import keys

T = 1_000_000


def public_key() -> str:
    return keys.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes_raw())


def register(**fields: object) -> RegisterRadar:
    command = RegisterRadar(
        radar_id="R-1", name=" A6 PK 12 ", latitude=48.6, longitude=2.4, speed_limit_kmh=90, public_key=public_key()
    )
    return dataclasses.replace(command, **fields)


def fold(events: list[Event], state: RadarState | None = None) -> RadarState:
    for event in events:
        state = domain.evolve(state, event)
    assert state is not None
    return state


def registered(now_ms: int = T) -> RadarState:
    return fold(domain.register(register(), None, now_ms))


def test_register_gives_a_radar_with_its_key_limit_and_active_status() -> None:
    command = register()
    radar = fold(domain.register(command, None, T))

    assert (radar.radar_id, radar.name, radar.speed_limit_kmh, radar.status) == ("R-1", "A6 PK 12", 90, "active")
    (key,) = radar.keys
    assert keys.b64encode(key.public_key) == command.public_key and key.key_id == keys.key_id(key.public_key)
    assert radar.active_keys == radar.keys and radar.key(key.key_id) == key and radar.key("nope") is None


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"radar_id": "R 1"}, "radar_id"),
        ({"radar_id": "R" * 33}, "radar_id"),
        ({"name": "  "}, "name"),
        ({"latitude": 91.0}, "latitude"),
        ({"longitude": float("nan")}, "finite"),
        ({"speed_limit_kmh": 4}, "between 5 and 250"),
        ({"speed_limit_kmh": 251}, "between 5 and 250"),
        ({"speed_limit_kmh": True}, "integer"),
        ({"public_key": "AAAA"}, "public_key"),
    ],
)
def test_register_refuses_invalid_input(fields: dict[str, object], error: str) -> None:
    with pytest.raises(Invalid, match=error):
        domain.register(register(**fields), None, T)


def test_register_twice_is_a_conflict() -> None:
    with pytest.raises(Conflict, match="already registered"):
        domain.register(register(), registered(), T)


def test_timeline_values_at_instants() -> None:
    timeline = Timeline((10,), (90,)).then(20, 110).then(30, 70)
    assert [timeline.at(ms) for ms in (0, 10, 19, 20, 29, 30, 99)] == [90, 90, 90, 110, 110, 70, 70]
    assert (timeline.current, timeline.last_change_ms) == (70, 30)
    assert timeline.then(30, 50) == Timeline((10, 20, 30), (90, 110, 50))  # the same instant supersedes


def test_update_without_a_change_decides_nothing() -> None:
    radar = registered()
    assert domain.update(UpdateRadar(radar_id="R-1", name="A6 PK 12", speed_limit_kmh=90), radar, T + 1) == []


def test_update_gives_one_event_per_kind_of_change() -> None:
    radar = registered()
    events = domain.update(
        UpdateRadar(radar_id="R-1", name="moved", latitude=1.0, speed_limit_kmh=110, status="inactive"), radar, T + 5
    )
    assert [type(event) for event in events] == [RadarDetailsChanged, SpeedLimitChanged, RadarStatusChanged]
    after = fold(events, radar)
    assert (after.name, after.latitude, after.longitude) == ("moved", 1.0, 2.4)
    assert (after.speed_limit_at(T + 4), after.speed_limit_at(T + 5), after.status_at(T + 4), after.status) == (
        90,
        110,
        "active",
        "inactive",
    )


def test_a_change_takes_effect_at_its_effective_time_never_in_the_future_nor_before_the_last() -> None:
    radar = fold([SpeedLimitChanged("R-1", 70, 90, T + 10)], registered())
    with pytest.raises(Invalid, match="future"):
        domain.update(UpdateRadar(radar_id="R-1", speed_limit_kmh=50, effective_at_ms=T + 21), radar, T + 20)
    with pytest.raises(Conflict, match="before the previous change"):
        domain.update(UpdateRadar(radar_id="R-1", speed_limit_kmh=50, effective_at_ms=T + 9), radar, T + 20)
    (change,) = domain.update(UpdateRadar(radar_id="R-1", speed_limit_kmh=50, effective_at_ms=T + 15), radar, T + 20)
    assert change == SpeedLimitChanged("R-1", 50, 70, T + 15)


def test_update_refuses_an_unknown_status_and_an_unknown_radar() -> None:
    with pytest.raises(Invalid, match="status must be one of active, inactive"):
        domain.update(UpdateRadar(radar_id="R-1", status="broken"), registered(), T)
    with pytest.raises(NotFound, match="radar R-1 is not registered"):
        domain.update(UpdateRadar(radar_id="R-1", name="x"), None, T)


def test_keys_rotate_and_revoke_but_stay_known() -> None:
    radar = registered()
    first = radar.keys[0].key_id
    new_key = public_key()
    (added,) = domain.rotate_key(RotateRadarKey(radar_id="R-1", public_key=new_key), radar, T + 1)
    assert isinstance(added, RadarKeyAdded) and added.key_id == keys.key_id(keys.b64decode(new_key))
    with pytest.raises(Conflict, match="already known"):
        domain.rotate_key(RotateRadarKey(radar_id="R-1", public_key=new_key), fold([added], radar), T + 2)

    revoked = domain.revoke_key(RevokeRadarKey(radar_id="R-1", key_id=first, reason="lost"), radar, T + 3)
    after = fold([added, *revoked], radar)
    assert revoked == [RadarKeyRevoked("R-1", first, "lost", T + 3)]
    assert [key.key_id for key in after.active_keys] == [added.key_id]
    old = after.key(first)
    assert old is not None and old.revoked and old.revoked_at_ms == T + 3
    with pytest.raises(Conflict, match="already revoked"):
        domain.revoke_key(RevokeRadarKey(radar_id="R-1", key_id=first), after, T + 4)
    with pytest.raises(NotFound, match="has no key"):
        domain.revoke_key(RevokeRadarKey(radar_id="R-1", key_id="0" * 16), after, T + 4)


def test_an_event_before_the_registration_cannot_be_folded() -> None:
    with pytest.raises(ValueError, match="before RadarRegistered"):
        domain.evolve(None, RadarDetailsChanged("R-1", "x", 0.0, 0.0, T))
