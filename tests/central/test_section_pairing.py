"""The section pairing process manager on SQLite and PostgreSQL: the contract's examples end to end,
passages out of order, late and duplicated, an ambiguous pair, a misread plate, clock uncertainty at
the boundary, and a rebuild that decides nothing twice."""

from __future__ import annotations

from dataclasses import replace

import pytest

from speedledger.central.errors import Conflict
from speedledger.central.infractions import queries
from speedledger.central.infractions.dismissals import list_dismissed
from speedledger.central.infractions.domain import InfractionKind
from speedledger.central.infractions.events import INFRACTION_EVENTS, ViolationDismissed, dismissal_stream
from speedledger.central.infractions.queries import InfractionView
from speedledger.central.radars.commands import UpdateRadar
from speedledger.central.sections.commands import RecordPassage
from tests.central.conftest import HOUR, T0, FakeClock, World
from tests.central.section_road import ENTRY_MS, Road
from tests.fixtures.metrology import VERIFIED


@pytest.fixture
def road(world: World) -> Road:
    return Road(world)


def test_contract_example_gives_a_section_infraction(road: Road) -> None:
    entry, exit = road.trip(300)  # 10 km in 5 min: 119 km/h in favour of the driver, retained 113
    road.record(entry)
    road.record(exit)
    (infraction,) = road.infractions()
    assert infraction.kind is InfractionKind.SECTION
    assert (infraction.section_id, infraction.entry_event_id, infraction.exit_event_id) == (
        "A7-S1",
        entry["event_id"],
        exit["event_id"],
    )
    assert (infraction.average_speed_kmh, infraction.retained_speed_kmh, infraction.speed_limit_kmh) == (119, 113, 110)
    assert (infraction.fine_eur, infraction.points, infraction.excess_kmh) == (68, 1, 3)
    assert (infraction.owner_id, infraction.status, infraction.detected_at_ms) == (
        road.owner,
        "issued",
        exit["passed_at_ms"],
    )
    with road.central.engine.connect() as conn:
        detail = queries.get_infraction(conn, infraction.infraction_id, road.central.cipher)
    assert detail is not None
    assert (detail.device_message, detail.entry_device_message) == (exit, entry)


def test_a_listed_item_is_the_detail_without_its_extras(road: Road) -> None:
    """A list reads only the columns its items show: each item has the detail's values, section fields included."""
    for passage in road.trip(300):
        road.record(passage)
    road.world.record(road.exit.violation(detected_at_ms=T0, measured_speed_ckmh=15_000))
    items = road.infractions()
    assert {item.kind for item in items} == {InfractionKind.SECTION, InfractionKind.SPOT}
    with road.central.engine.connect() as conn:
        for item in items:
            detail = queries.get_infraction(conn, item.infraction_id, road.central.cipher)
            assert detail is not None
            assert item.model_dump() == detail.model_dump(include=set(InfractionView.model_fields))


def test_compliant_car_gets_nothing(road: Road) -> None:
    entry, exit = road.trip(330)  # 109 km/h, retained 103
    road.record(entry)
    road.record(exit)
    assert road.infractions() == []
    assert road.ambiguities() == []


def test_exit_before_entry_arrives_still_pairs(road: Road, clock: FakeClock) -> None:
    entry, exit = road.trip(300)
    road.record(exit)
    clock.advance(3 * HOUR)  # the entry radar was offline for hours
    road.record(entry)
    (infraction,) = road.infractions()
    assert (infraction.entry_event_id, infraction.exit_event_id) == (entry["event_id"], exit["event_id"])


def test_duplicated_passages_decide_once(road: Road) -> None:
    entry, exit = road.trip(300)
    assert [road.record(entry), road.record(exit), road.record(exit), road.record(entry)] == [
        "accepted",
        "accepted",
        "duplicate",
        "duplicate",
    ]
    assert len(road.infractions()) == 1


def test_a_passage_shares_the_seq_counter_with_violations(road: Road) -> None:
    violation = road.entry.violation()
    road.central.bus.handle(RecordPassage(message=road.entry.passage()))
    with pytest.raises(Conflict, match="seq"):
        road.central.bus.handle(RecordPassage(message=road.entry.passage(seq=violation["seq"] + 1)))


def test_ambiguous_pair_gives_no_infraction_and_is_listed(road: Road) -> None:
    entry, exit = road.trip(300)
    other_entry = road.entry.passage(passed_at_ms=ENTRY_MS + 60_000)  # the same plate again a minute later
    for message in (entry, other_entry, exit):
        road.record(message)
    assert road.infractions() == []
    (listed,) = road.ambiguities()
    assert (listed["section_id"], listed["event_id"], listed["plate"], listed["reason"]) == (
        "A7-S1",
        exit["event_id"],
        "GZ123QK",
        "several_candidates",
    )
    assert listed["event_ids"] == sorted([entry["event_id"], other_entry["event_id"], exit["event_id"]])


def test_misread_plate_at_one_end_gives_nothing(road: Road) -> None:
    entry = road.entry.passage(passed_at_ms=ENTRY_MS)
    misread = road.exit.passage(passed_at_ms=ENTRY_MS + 200_000, plate="GZ128QK")
    unsure = road.exit.passage(passed_at_ms=ENTRY_MS + 210_000, plate="GZ123QK", plate_confidence_pm=500)
    for message in (entry, misread, unsure):
        road.record(message)
    assert road.infractions() == []


def test_exit_beyond_the_plausible_travel_time_is_not_paired(road: Road) -> None:
    road.record(road.entry.passage(passed_at_ms=ENTRY_MS))
    road.record(road.exit.passage(passed_at_ms=ENTRY_MS + HOUR + 1))  # 10 km take at most 1 h
    road.record(road.entry.passage(passed_at_ms=ENTRY_MS + 2 * HOUR))
    road.record(road.exit.passage(passed_at_ms=ENTRY_MS + 2 * HOUR + 240_000))  # then 150 km/h
    (infraction,) = road.infractions()
    assert infraction.average_speed_kmh == 150


@pytest.mark.parametrize(("entry_u", "exit_u", "fined"), [(0, 0, True), (1, 2, False)])
def test_clock_uncertainty_at_the_boundary(road: Road, entry_u: int, exit_u: int, fined: bool) -> None:
    # 10 km in 307.690 s is 117.0008 km/h -> 117, retained 111 > 110; 3 ms more is 116.9997 -> 116, retained 110.
    road.record(road.entry.passage(passed_at_ms=ENTRY_MS, clock_uncertainty_ms=entry_u))
    road.record(road.exit.passage(passed_at_ms=ENTRY_MS + 307_690, clock_uncertainty_ms=exit_u))
    assert [(item.average_speed_kmh, item.retained_speed_kmh) for item in road.infractions()] == (
        [(117, 111)] if fined else []
    )


def test_kind_filter_and_unknown_plate(road: Road) -> None:
    road.record(road.entry.passage(passed_at_ms=ENTRY_MS, plate="ZZ999ZZ"))
    road.record(road.exit.passage(passed_at_ms=ENTRY_MS + 200_000, plate="ZZ999ZZ"))
    road.world.record(road.exit.violation(detected_at_ms=T0, measured_speed_ckmh=15_000))
    section, spot = road.infractions(InfractionKind.SECTION), road.infractions(InfractionKind.SPOT)
    assert [(item.kind, item.status, item.unidentified_reason) for item in section] == [
        (InfractionKind.SECTION, "unidentified", "plate_unknown")
    ]
    assert [(item.kind, item.section_id) for item in spot] == [(InfractionKind.SPOT, None)]


def test_rebuild_makes_the_same_pairs_and_no_second_decision(road: Road) -> None:
    speeding = road.trip(250)
    compliant = road.trip(400, plate="AB123CD")
    ambiguous_entry, ambiguous_exit = road.trip(300, plate="CD456EF")
    ambiguous = (ambiguous_entry, road.entry.passage(passed_at_ms=ENTRY_MS + 1000, plate="CD456EF"), ambiguous_exit)
    for message in (*speeding, *compliant, *ambiguous):
        road.record(message)
    before, listed, head = road.infractions(), road.ambiguities(), road.central.store.last_position()
    assert [item.entry_event_id for item in before] == [speeding[0]["event_id"]]
    assert len(listed) == 1
    for name in ("section-pairing", "infractions"):
        road.central.runner.rebuild(name)
    assert (road.infractions(), road.ambiguities()) == (before, listed)
    assert road.central.store.last_position() == head


@pytest.mark.parametrize(
    ("lapsed", "valid_until_ms"),
    [("entry", ENTRY_MS), ("exit", ENTRY_MS + 100_000)],  # lapsed at the entry, or between entry and exit
)
def test_a_pair_over_the_limit_from_a_radar_not_verified_is_dismissed_and_listed(
    world: World, lapsed: str, valid_until_ms: int
) -> None:
    lapsing = (replace(VERIFIED, valid_until_ms=valid_until_ms),)
    road = Road(world, **{f"{lapsed}_metrology": lapsing})
    speeding, compliant = road.trip(250), road.trip(400, plate="AB123CD")
    for message in (*speeding, *compliant):
        road.record(message)
    head = road.central.store.last_position()
    assert road.infractions() == []
    entry, exit = speeding
    (listed,) = road.ambiguities()  # the compliant car is not listed: it did nothing wrong
    assert (listed["reason"], listed["plate"], listed["event_ids"]) == (
        "radar_not_verified",
        "GZ123QK",
        sorted([entry["event_id"], exit["event_id"]]),
    )
    (recorded,) = road.central.store.read_stream(dismissal_stream(exit["event_id"]))
    dismissal = INFRACTION_EVENTS.decode(recorded.type, recorded.data)
    assert isinstance(dismissal, ViolationDismissed)
    assert (dismissal.reason, dismissal.measured_speed_ckmh, dismissal.speed_limit_kmh) == (
        "radar_not_verified",
        14300,
        110,
    )
    road.central.runner.rebuild("section-pairing")
    assert (road.infractions(), road.central.store.last_position()) == ([], head)  # decided once


@pytest.mark.parametrize(
    ("radar_id", "inactive_from_ms", "reason"),
    [
        ("FR-A7-201", ENTRY_MS, "radar_inactive"),  # the entry radar, from its passage on
        ("FR-A7-202", ENTRY_MS + 100_000, "radar_inactive"),  # the exit radar, between entry and exit
        ("FR-A7-202", ENTRY_MS + 250_001, None),  # the exit radar, once the exit passage was made: fined
    ],
)
def test_a_pair_over_the_limit_from_a_radar_inactive_at_its_passage_is_dismissed_and_listed(
    road: Road, clock: FakeClock, radar_id: str, inactive_from_ms: int, reason: str | None
) -> None:
    clock.now = inactive_from_ms
    road.central.bus.handle(UpdateRadar(radar_id=radar_id, status="inactive", effective_at_ms=inactive_from_ms))
    speeding, compliant = road.trip(250), road.trip(400, plate="AB123CD")
    for message in (*speeding, *compliant):
        road.record(message)
    entry, exit = speeding
    if reason is None:
        assert [item.exit_event_id for item in road.infractions()] == [exit["event_id"]]
        assert road.ambiguities() == []
        return
    head = road.central.store.last_position()
    assert road.infractions() == []
    (listed,) = road.ambiguities()  # the compliant car is not listed: it did nothing wrong
    assert (listed["reason"], listed["event_ids"]) == (reason, sorted([entry["event_id"], exit["event_id"]]))
    (recorded,) = road.central.store.read_stream(dismissal_stream(exit["event_id"]))
    assert recorded.data["reason"] == reason
    for name in ("section-pairing", "infractions"):
        road.central.runner.rebuild(name)
    assert (road.infractions(), road.ambiguities(), road.central.store.last_position()) == ([], [listed], head)
    with road.central.engine.connect() as conn:
        (dismissed,) = list_dismissed(conn)  # rebuilt from the decision, with the spot ones
    assert (dismissed.event_id, dismissed.section_id, dismissed.reason) == (exit["event_id"], "A7-S1", reason)
