"""Radar metrology records: a violation counts only while a periodic verification is in force."""

from __future__ import annotations

from dataclasses import replace

import pytest

from speedledger.central.bootstrap import Central
from speedledger.central.errors import Invalid, NotFound
from speedledger.central.infractions import queries
from speedledger.central.infractions.dismissals import list_dismissed
from speedledger.central.infractions.domain import DismissalReason, infraction_id_for
from speedledger.central.radars.commands import RecordMetrology
from speedledger.central.radars.lookup import load_radar
from speedledger.central.radars.metrology import DAY_MS, TYPE_APPROVAL
from speedledger.central.radars.queries import get_radar, radars_due_for_verification
from tests.central.conftest import HOUR, T0, FakeClock, World
from tests.fixtures.metrology import VERIFIED
from tests.fixtures.postgres import sqlite_only

RADAR_NOT_VERIFIED = DismissalReason.RADAR_NOT_VERIFIED

#: Verified a year before T0, lapsing one hour after it.
LAPSING = replace(VERIFIED, verified_at_ms=T0 - 365 * DAY_MS, valid_until_ms=T0 + HOUR)

pytestmark = sqlite_only


def test_a_violation_after_the_verification_lapsed_is_dismissed_and_listed(central: Central, world: World) -> None:
    radar = world.radar("R1", metrology=(LAPSING,))
    world.vehicle("GZ123QK", world.owner())
    in_force = radar.violation(detected_at_ms=T0 + HOUR - 1, measured_speed_ckmh=13000)
    lapsed = radar.violation(detected_at_ms=T0 + HOUR, measured_speed_ckmh=13000)
    world.record(in_force)
    world.record(lapsed)

    (decision,) = central.store.read_stream(f"dismissal-{lapsed['event_id']}")
    assert (decision.type, decision.data["reason"]) == ("ViolationDismissed", RADAR_NOT_VERIFIED)
    with central.engine.connect() as conn:
        assert queries.get_infraction(conn, infraction_id_for(lapsed["event_id"]), central.cipher) is None
        assert queries.get_infraction(conn, infraction_id_for(in_force["event_id"]), central.cipher) is not None
        (listed,) = list_dismissed(conn, reason=RADAR_NOT_VERIFIED)
    assert (listed.event_id, listed.radar_id, listed.detected_at_ms) == (lapsed["event_id"], "R1", T0 + HOUR)


def test_a_radar_without_any_record_gives_no_infraction(central: Central, world: World) -> None:
    radar = world.radar("R1", metrology=())
    message = radar.violation(measured_speed_ckmh=20000)
    world.record(message)
    (decision,) = central.store.read_stream(f"dismissal-{message['event_id']}")
    assert decision.data["reason"] == RADAR_NOT_VERIFIED


def test_a_type_approval_alone_is_not_a_verification(central: Central, world: World) -> None:
    radar = world.radar("R1", metrology=(replace(VERIFIED, kind=TYPE_APPROVAL),))
    message = radar.violation(measured_speed_ckmh=20000)
    world.record(message)
    (decision,) = central.store.read_stream(f"dismissal-{message['event_id']}")
    assert decision.data["reason"] == RADAR_NOT_VERIFIED


def test_a_renewal_is_recorded_and_projected(central: Central, world: World, clock: FakeClock) -> None:
    world.radar("R1", metrology=(LAPSING,))
    clock.advance(HOUR)
    renewal = replace(LAPSING, approval_number=" VP-2026 ", verified_at_ms=T0 + HOUR, valid_until_ms=T0 + 366 * DAY_MS)
    central.bus.handle(RecordMetrology(radar_id="R1", record=renewal))
    state = load_radar(central.store, "R1")
    assert state is not None and state.verification_at(T0 + 2 * HOUR) == replace(renewal, approval_number="VP-2026")
    with central.engine.connect() as conn:
        radar = get_radar(conn, "R1")
        assert radar is not None
        assert [record.approval_number for record in radar.metrology] == ["TEST-VP-0001", "VP-2026"]
        assert radars_due_for_verification(conn, clock(), 30 * DAY_MS) == set()
        assert radars_due_for_verification(conn, clock(), 400 * DAY_MS) == {"R1"}


def test_radars_coming_due(central: Central, world: World) -> None:
    world.radar("SOON", metrology=(replace(LAPSING, valid_until_ms=T0 + 10 * DAY_MS),))
    world.radar("LATER", metrology=(replace(LAPSING, valid_until_ms=T0 + 100 * DAY_MS),))
    world.radar("NEVER", metrology=())
    world.radar("LAPSED", metrology=(replace(LAPSING, valid_until_ms=T0 - DAY_MS),))
    with central.engine.connect() as conn:
        assert radars_due_for_verification(conn, T0, 30 * DAY_MS) == {"SOON", "NEVER", "LAPSED"}
        assert radars_due_for_verification(conn, T0, 0) == {"NEVER", "LAPSED"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "calibration"}, "kind must be one of"),
        ({"certificate_sha256": "ABC"}, "certificate_sha256"),
        ({"verified_at_ms": T0 + 1}, "cannot be in the future"),
        ({"valid_until_ms": VERIFIED.verified_at_ms}, "valid_until_ms must be after"),
        ({"verifying_body": "  "}, "verifying_body must have"),
    ],
)
def test_bad_records_are_refused(central: Central, world: World, change: dict[str, object], message: str) -> None:
    world.radar("R1")
    with pytest.raises(Invalid, match=message):
        central.bus.handle(RecordMetrology(radar_id="R1", record=replace(VERIFIED, **change)))  # type: ignore[arg-type]


def test_unknown_radar(central: Central) -> None:
    with pytest.raises(NotFound):
        central.bus.handle(RecordMetrology(radar_id="NOPE", record=VERIFIED))
