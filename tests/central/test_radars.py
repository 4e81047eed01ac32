"""Radars: registration, limit and status history, key rotation and revocation."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection

from speedledger.central.bootstrap import Central
from speedledger.central.errors import Conflict, Invalid, NotFound
from speedledger.central.radars import queries
from speedledger.central.radars.commands import RegisterRadar, RevokeRadarKey, RotateRadarKey, UpdateRadar
from speedledger.central.radars.lookup import load_radar
from tests.central.conftest import HOUR, T0, FakeClock, Radar, World
from tests.fixtures.postgres import sqlite_only

#: Decisions and plain reads: SQLite only (the other modules run on PostgreSQL too).
pytestmark = sqlite_only


def test_register_and_query(world: World, conn: Connection) -> None:
    radar = world.radar("FR-A6-012", 90)
    view = queries.get_radar(conn, "FR-A6-012")
    assert view is not None
    assert (view.name, view.latitude, view.longitude, view.speed_limit_kmh, view.status) == (
        "Radar FR-A6-012",
        48.8,
        2.3,
        90,
        "active",
    )
    assert [(key.key_id, key.public_key, key.revoked) for key in view.keys] == [(radar.key_id, radar.public_key, False)]
    assert [radar.radar_id for radar in queries.list_radars(conn)] == ["FR-A6-012"]
    assert queries.get_radar(conn, "nope") is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"radar_id": "bad id!"}, "radar_id"),
        ({"radar_id": "x" * 33}, "radar_id"),
        ({"latitude": 91.0}, "latitude"),
        ({"longitude": float("nan")}, "finite"),
        ({"speed_limit_kmh": 0}, "speed_limit_kmh"),
        ({"speed_limit_kmh": 90.5}, "integer"),
        ({"public_key": "not base64!"}, "public_key"),
        ({"public_key": "AAAA"}, "public_key"),
        ({"name": "  "}, "name"),
    ],
)
def test_registration_validation(central: Central, changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "radar_id": "R1",
        "name": "R1",
        "latitude": 1.0,
        "longitude": 2.0,
        "speed_limit_kmh": 50,
        "public_key": Radar("R1").public_key,
    }
    with pytest.raises(Invalid, match=message):
        central.bus.handle(RegisterRadar(**{**fields, **changes}))  # type: ignore[arg-type]


def test_duplicate_radar(world: World) -> None:
    world.radar("R1")
    with pytest.raises(Conflict, match="already registered"):
        world.radar("R1")


def test_limit_history_keeps_old_limits(central: Central, world: World, clock: FakeClock, conn: Connection) -> None:
    world.radar("R1", 90)
    clock.advance(HOUR)
    central.bus.handle(UpdateRadar(radar_id="R1", speed_limit_kmh=70))
    clock.advance(HOUR)
    central.bus.handle(UpdateRadar(radar_id="R1", speed_limit_kmh=50, effective_at_ms=T0 + HOUR + 1))

    radar = load_radar(central.store, "R1")
    assert radar is not None
    assert radar.speed_limit_kmh == 50
    assert [radar.speed_limit_at(t) for t in (T0 - HOUR, T0, T0 + HOUR - 1, T0 + HOUR, T0 + HOUR + 1)] == [
        90,  # the first limit also covers what a radar saw before it was registered
        90,
        90,
        70,
        50,
    ]
    view = queries.get_radar(conn, "R1")
    assert view is not None and view.speed_limit_kmh == 50
    assert [(p.effective_from_ms, p.speed_limit_kmh) for p in view.speed_limit_history] == [
        (T0, 90),
        (T0 + HOUR, 70),
        (T0 + HOUR + 1, 50),
    ]
    with pytest.raises(Conflict, match="before the previous change"):
        central.bus.handle(UpdateRadar(radar_id="R1", speed_limit_kmh=30, effective_at_ms=T0))
    with pytest.raises(Invalid, match="future"):
        central.bus.handle(UpdateRadar(radar_id="R1", speed_limit_kmh=30, effective_at_ms=clock.now + 1))


def test_same_instant_change_supersedes(central: Central, world: World, conn: Connection) -> None:
    world.radar("R1", 90)
    central.bus.handle(UpdateRadar(radar_id="R1", speed_limit_kmh=70))
    central.bus.handle(UpdateRadar(radar_id="R1", speed_limit_kmh=80))
    radar = load_radar(central.store, "R1")
    assert radar is not None and radar.speed_limit_at(T0) == 80
    view = queries.get_radar(conn, "R1")
    assert view is not None
    assert [(p.effective_from_ms, p.speed_limit_kmh) for p in view.speed_limit_history] == [(T0, 80)]


def test_update_details_and_status(central: Central, world: World, clock: FakeClock, conn: Connection) -> None:
    world.radar("R1")
    clock.advance(HOUR)
    central.bus.handle(UpdateRadar(radar_id="R1", name="Porte d'Orléans", latitude=48.82, status="inactive"))
    view = queries.get_radar(conn, "R1")
    assert view is not None
    assert (view.name, view.latitude, view.longitude, view.status) == ("Porte d'Orléans", 48.82, 2.3, "inactive")
    radar = load_radar(central.store, "R1")
    assert radar is not None and (radar.status_at(T0), radar.status_at(T0 + HOUR)) == ("active", "inactive")
    events_before = central.store.last_position()
    central.bus.handle(UpdateRadar(radar_id="R1", name="Porte d'Orléans", status="inactive"))
    assert central.store.last_position() == events_before  # nothing changed, nothing recorded
    with pytest.raises(Invalid, match="status"):
        central.bus.handle(UpdateRadar(radar_id="R1", status="broken"))
    with pytest.raises(NotFound):
        central.bus.handle(UpdateRadar(radar_id="R2", status="active"))


def test_rotate_and_revoke_keys(central: Central, world: World, clock: FakeClock, conn: Connection) -> None:
    radar = world.radar("R1")
    new = Radar("R1")
    clock.advance(HOUR)
    assert central.bus.handle(RotateRadarKey(radar_id="R1", public_key=new.public_key)) == new.key_id
    with pytest.raises(Conflict, match="already known"):
        central.bus.handle(RotateRadarKey(radar_id="R1", public_key=new.public_key))
    state = load_radar(central.store, "R1")
    assert state is not None and [key.key_id for key in state.active_keys] == [radar.key_id, new.key_id]

    clock.advance(HOUR)
    central.bus.handle(RevokeRadarKey(radar_id="R1", key_id=radar.key_id, reason="board replaced"))
    state = load_radar(central.store, "R1")
    assert state is not None
    old_key = state.key(radar.key_id)
    assert old_key is not None and old_key.revoked and old_key.revoked_at_ms == T0 + 2 * HOUR
    assert old_key.public_key == radar.private_key.public_key().public_bytes_raw()  # still known: evidence verifies
    assert [key.key_id for key in state.active_keys] == [new.key_id]
    view = queries.get_radar(conn, "R1")
    assert view is not None
    assert [(key.key_id, key.revoked, key.revoke_reason) for key in view.keys] == [
        (radar.key_id, True, "board replaced"),
        (new.key_id, False, None),
    ]
    with pytest.raises(Conflict, match="already revoked"):
        central.bus.handle(RevokeRadarKey(radar_id="R1", key_id=radar.key_id))
    with pytest.raises(NotFound, match="no key"):
        central.bus.handle(RevokeRadarKey(radar_id="R1", key_id="0123456789abcdef"))


def test_list_gives_each_radar_its_own_keys_and_limits(
    central: Central, world: World, clock: FakeClock, conn: Connection
) -> None:
    first, second = world.radar("R1", 90), world.radar("R2", 50)
    extra = Radar("R2")
    clock.advance(1)
    central.bus.handle(RotateRadarKey(radar_id="R2", public_key=extra.public_key))
    listed = {view.radar_id: view for view in queries.list_radars(conn)}
    assert [key.key_id for key in listed["R1"].keys] == [first.key_id]
    assert [key.key_id for key in listed["R2"].keys] == [second.key_id, extra.key_id]
    assert [p.speed_limit_kmh for p in listed["R1"].speed_limit_history] == [90]
    assert [p.speed_limit_kmh for p in listed["R2"].speed_limit_history] == [50]
    assert listed["R2"] == queries.get_radar(conn, "R2")
