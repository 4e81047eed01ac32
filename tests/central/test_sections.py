"""Sections: creation between two registered radars, validation, limit history, and the read model."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection

from speedledger.central.bootstrap import Central
from speedledger.central.errors import Conflict, Invalid, NotFound
from speedledger.central.sections import queries
from speedledger.central.sections.commands import ChangeSectionLimit, CreateSection
from speedledger.central.sections.lookup import load_section
from tests.central.conftest import HOUR, T0, FakeClock, World


def create(central: Central, section_id: str = "A7-S1", **changes: object) -> str:
    fields: dict[str, object] = {
        "section_id": section_id,
        "entry_radar_id": "FR-A7-201",
        "exit_radar_id": "FR-A7-202",
        "distance_m": 10_000,
        "speed_limit_kmh": 110,
    }
    result: str = central.bus.handle(CreateSection(**{**fields, **changes}))  # type: ignore[arg-type]
    return result


@pytest.fixture
def road(world: World) -> World:
    world.radar("FR-A7-201", 130)
    world.radar("FR-A7-202", 130)
    return world


def test_create_and_query(road: World, conn: Connection) -> None:
    assert create(road.central) == "A7-S1"
    view = queries.get_section(conn, "A7-S1")
    assert view is not None
    assert (view.entry_radar_id, view.exit_radar_id, view.distance_m, view.speed_limit_kmh) == (
        "FR-A7-201",
        "FR-A7-202",
        10_000,
        110,
    )
    # 10 km at the slowest plausible average speed (10 km/h) is one hour.
    assert view.max_travel_ms == HOUR
    assert [(period.effective_from_ms, period.speed_limit_kmh) for period in view.speed_limit_history] == [(T0, 110)]
    assert [section.section_id for section in queries.list_sections(conn)] == ["A7-S1"]
    assert queries.get_section(conn, "nope") is None


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"section_id": "bad id!"}, Invalid, "section_id"),
        ({"exit_radar_id": "FR-A7-201"}, Invalid, "two different radars"),
        ({"distance_m": 99}, Invalid, "distance_m"),
        ({"distance_m": 1000.5}, Invalid, "integer"),
        ({"speed_limit_kmh": 0}, Invalid, "speed_limit_kmh"),
        ({"exit_radar_id": "FR-NOPE"}, NotFound, "FR-NOPE"),
    ],
)
def test_creation_validation(road: World, changes: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        create(road.central, **changes)
    assert load_section(road.central.store, "A7-S1") is None


def test_creating_twice_is_a_conflict(road: World) -> None:
    create(road.central)
    with pytest.raises(Conflict, match="already exists"):
        create(road.central)


def test_limit_history(road: World, clock: FakeClock, conn: Connection) -> None:
    central = road.central
    create(central)
    clock.advance(2 * HOUR)
    central.bus.handle(ChangeSectionLimit(section_id="A7-S1", speed_limit_kmh=90, effective_at_ms=T0 + HOUR))
    section = load_section(central.store, "A7-S1")
    assert section is not None
    assert (section.speed_limit_at(T0 + HOUR - 1), section.speed_limit_at(T0 + HOUR), section.speed_limit_kmh) == (
        110,
        90,
        90,
    )
    view = queries.get_section(conn, "A7-S1")
    assert view is not None and view.speed_limit_kmh == 90
    assert [(period.effective_from_ms, period.speed_limit_kmh) for period in view.speed_limit_history] == [
        (T0, 110),
        (T0 + HOUR, 90),
    ]
    with pytest.raises(Conflict, match="history is never rewritten"):
        central.bus.handle(ChangeSectionLimit(section_id="A7-S1", speed_limit_kmh=70, effective_at_ms=T0))
    with pytest.raises(Invalid, match="future"):
        central.bus.handle(ChangeSectionLimit(section_id="A7-S1", speed_limit_kmh=70, effective_at_ms=clock.now + 1))
    with pytest.raises(NotFound):
        central.bus.handle(ChangeSectionLimit(section_id="nope", speed_limit_kmh=70))


def test_rebuild_gives_the_same_read_model(road: World, clock: FakeClock) -> None:
    central = road.central
    create(central)
    clock.advance(HOUR)
    central.bus.handle(ChangeSectionLimit(section_id="A7-S1", speed_limit_kmh=90))
    with central.engine.connect() as conn:
        before = queries.list_sections(conn)
    central.runner.rebuild("sections")
    with central.engine.connect() as conn:
        assert queries.list_sections(conn) == before
