"""One violation, one decision, for ever: back-dated radar changes and rebuilds never decide again."""

from __future__ import annotations

from typing import Any

import pytest

from speedledger.central.bootstrap import Central
from speedledger.central.infractions.commands import CancelInfraction
from speedledger.central.infractions.domain import infraction_id_for
from speedledger.central.infractions.events import InfractionIssued, ViolationDismissed
from speedledger.central.infractions.process_manager import InfractionProcessManager
from speedledger.central.infractions.queries import get_infraction
from speedledger.central.radars.commands import UpdateRadar
from tests.central.conftest import T0, FakeClock, World

DECISIONS = {InfractionIssued.__name__, ViolationDismissed.__name__}


def decisions_for(central: Central, event_id: str) -> list[str]:
    """The decision events in the whole log that answer violation `event_id`."""
    return [
        event.type
        for event in central.store.read_all(0, 1_000_000)
        if event.type in DECISIONS and event.data["event_id"] == event_id
    ]


def rebuild_process_manager(central: Central) -> None:
    central.runner.rebuild(InfractionProcessManager.name)


def infraction_status(central: Central, infraction_id: str) -> Any:
    with central.engine.connect() as conn:
        infraction = get_infraction(conn, infraction_id, central.cipher)
    return infraction.status if infraction is not None else None


@pytest.mark.parametrize(
    ("change", "first", "measured_speed_ckmh"),
    [
        ({"speed_limit_kmh": 130}, InfractionIssued, 10432),  # would now be under the limit
        ({"status": "inactive"}, InfractionIssued, 10432),  # would now be from an inactive radar
        ({"speed_limit_kmh": 70}, ViolationDismissed, 9000),  # would now be over the limit
    ],
)
def test_a_back_dated_change_then_a_rebuild_keeps_the_first_decision(
    world: World, central: Central, clock: FakeClock, change: dict[str, Any], first: type, measured_speed_ckmh: int
) -> None:
    radar = world.radar("R1", 90)
    world.vehicle("GZ123QK", world.owner())
    clock.advance(60_000)
    message = radar.violation(detected_at_ms=T0 + 30_000, measured_speed_ckmh=measured_speed_ckmh)
    world.record(message)
    assert decisions_for(central, message["event_id"]) == [first.__name__]

    clock.advance(60_000)
    central.bus.handle(UpdateRadar(radar_id="R1", effective_at_ms=T0 + 10_000, **change))
    rebuild_process_manager(central)
    rebuild_process_manager(central)

    assert decisions_for(central, message["event_id"]) == [first.__name__]


def test_a_correction_is_an_explicit_cancellation_not_a_second_decision(
    world: World, central: Central, clock: FakeClock
) -> None:
    radar = world.radar("R1", 90)
    world.vehicle("GZ123QK", world.owner())
    clock.advance(60_000)
    message = radar.violation(detected_at_ms=T0 + 30_000)
    world.record(message)
    central.bus.handle(UpdateRadar(radar_id="R1", speed_limit_kmh=130, effective_at_ms=T0 + 10_000))
    infraction_id = infraction_id_for(message["event_id"])
    central.bus.handle(CancelInfraction(infraction_id=infraction_id, reason="limit was 130 km/h since T0+10s"))
    rebuild_process_manager(central)

    assert decisions_for(central, message["event_id"]) == [InfractionIssued.__name__]
    assert infraction_status(central, infraction_id) == "cancelled"
