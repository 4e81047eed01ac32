"""Every read model rebuilt from position 0 holds exactly the rows it held live (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, select

from speedledger.central.bootstrap import Central
from speedledger.central.infractions.commands import ContestInfraction, IdentifyInfraction, PayInfraction
from speedledger.central.infractions.domain import infraction_id_for
from speedledger.central.projections.readmodel import TableProjection
from speedledger.central.radars.commands import RevokeRadarKey, RotateRadarKey, UpdateRadar
from speedledger.central.registration.commands import EraseOwner, TransferOwnership
from speedledger.central.sections.commands import ChangeSectionLimit, CreateSection
from tests.central.conftest import HOUR, T0, FakeClock, Radar, World, make_central


def _rows(central: Central, table: Table) -> list[tuple[Any, ...]]:
    with central.engine.connect() as conn:
        return sorted(tuple(row) for row in conn.execute(select(table)))


def _populate(central: Central, clock: FakeClock) -> None:
    world = World(central, clock)
    radar = world.radar("R1", 90)
    world.radar("R2", 50)
    alice, bob, carol = world.owner("Alice"), world.owner("Bob", "bob@example.fr"), world.owner("Carol", "c@x.fr")
    world.vehicle("GZ123QK", alice)
    world.vehicle("AB123CD", carol)
    clock.advance(HOUR)
    central.bus.handle(TransferOwnership(plate="GZ123QK", owner_id=bob, effective_at_ms=T0 + HOUR))
    central.bus.handle(UpdateRadar(radar_id="R1", speed_limit_kmh=70, name="renamed"))
    central.bus.handle(
        CreateSection(section_id="S1", entry_radar_id="R1", exit_radar_id="R2", distance_m=5000, speed_limit_kmh=70)
    )
    central.bus.handle(ChangeSectionLimit(section_id="S1", speed_limit_kmh=50))
    rotated = Radar("R1")
    central.bus.handle(RotateRadarKey(radar_id="R1", public_key=rotated.public_key))
    central.bus.handle(RevokeRadarKey(radar_id="R1", key_id=radar.key_id, reason="lost"))
    messages = [
        rotated.violation(detected_at_ms=T0 + 10, plate="GZ123QK"),
        rotated.violation(detected_at_ms=T0 + 2 * HOUR, plate="GZ123QK", measured_speed_ckmh=15000),
        rotated.violation(detected_at_ms=T0 + 2 * HOUR, plate="", measured_speed_ckmh=9000),
        rotated.violation(detected_at_ms=T0 + 2 * HOUR, plate="AB123CD", measured_speed_ckmh=7000),
    ]
    for message in messages:
        world.record(message)
    central.bus.handle(PayInfraction(infraction_id=infraction_id_for(messages[0]["event_id"])))
    central.bus.handle(ContestInfraction(infraction_id=infraction_id_for(messages[1]["event_id"]), reason="no"))
    central.bus.handle(IdentifyInfraction(infraction_id=infraction_id_for(messages[2]["event_id"]), plate="GZ123QK"))
    central.bus.handle(EraseOwner(owner_id=carol))


def test_rebuild_gives_identical_rows(database_url: str, clock: FakeClock) -> None:
    central = make_central(database_url, clock)
    try:
        _populate(central, clock)
        projections = [p for p in central.projections if isinstance(p, TableProjection)]
        assert {p.name for p in projections} >= {"radars", "sections", "registration", "infractions"}
        live = {table.name: _rows(central, table) for p in projections for table in p.tables}
        assert all(live.values()), {name: len(rows) for name, rows in live.items()}
        head = central.store.last_position()
        for projection in central.projections:
            assert central.runner.rebuild(projection.name) == head
        rebuilt = {table.name: _rows(central, table) for p in projections for table in p.tables}
        assert rebuilt == live
        assert central.store.last_position() == head  # the process manager decided nothing twice
    finally:
        central.close()
