"""The report's section invariants, on hand-made runs: central's rule on the true times decides what
is owed, and each invariant fails when what it guards goes wrong."""

from typing import Any

import pytest

from speedledger.simulator import report
from speedledger.simulator.fleet import RadarLog
from speedledger.simulator.registry import Registered
from speedledger.simulator.run import RunRecord
from speedledger.simulator.scenario import Radar, Registry, Scenario, Section
from speedledger.simulator.traffic import Owner, Pass, RegisteredVehicle, Trip, Truth

START_MS = 1_800_000_000_000
ENTRY = Radar("E-1", "entry", 48.0, 2.0, speed_limit_kmh=80, clock_uncertainty_ms=20)
EXIT = Radar("X-1", "exit", 48.0, 2.0, speed_limit_kmh=80, clock_uncertainty_ms=20)
SECTION = Section("S-1", "E-1", "X-1", distance_m=400, speed_limit_kmh=80)
SCENARIO = Scenario("hand", "", 1, 60.0, (ENTRY, EXIT), Registry(owners=2, vehicles=2, transfers=0), (), (SECTION,))
# 400 m in 12 s: 120 km/h; with 20 + 20 ms of uncertainty 119, retained 113 over 80: owed.
FAST = (
    Pass("E-1", 0, 10.0, 1, 70.0, True, "AB123CD", True, 15.0),
    Pass("X-1", 0, 22.0, 1, 75.0, True, "AB123CD", True, 15.0),
)
# 400 m in 20 s: 72 km/h, nothing owed.
SLOW = (
    Pass("E-1", 1, 20.0, 1, 70.0, True, "CD456EF", True, 15.0),
    Pass("X-1", 1, 40.0, 1, 75.0, True, "CD456EF", True, 15.0),
)
TRUTH = Truth(
    (Owner("A", "1980-01-01", "a@example.org"), Owner("B", "1981-01-01", "b@example.org")),
    (RegisteredVehicle("AB123CD", "Renault", "Clio", 0), RegisteredVehicle("CD456EF", "Dacia", "Sandero", 1)),
    (),
    (*FAST, *SLOW),
    (Trip("S-1", FAST[0].key, FAST[1].key), Trip("S-1", SLOW[0].key, SLOW[1].key)),
)


def passage(vehicle_pass: Pass, plate: str | None = None, confidence_pm: int = 900) -> dict[str, Any]:
    return {
        "event_id": f"p-{vehicle_pass.key}", "radar_id": vehicle_pass.radar_id,
        "passed_at_ms": START_MS + round(vehicle_pass.t_s * 1000) + 2, "clock_uncertainty_ms": 20,
        "plate": vehicle_pass.plate if plate is None else plate, "plate_confidence_pm": confidence_pm,
    }  # fmt: skip


def infraction(entry: Pass, exit_pass: Pass, average_kmh: int, owner_id: str | None) -> dict[str, Any]:
    return {
        "infraction_id": f"i-{exit_pass.key}", "event_id": f"p-{exit_pass.key}", "radar_id": exit_pass.radar_id,
        "owner_id": owner_id, "kind": "section", "section_id": "S-1", "entry_event_id": f"p-{entry.key}",
        "exit_event_id": f"p-{exit_pass.key}", "average_speed_kmh": average_kmh,
    }  # fmt: skip


def record(passages: list[dict[str, Any]], infractions: list[dict[str, Any]]) -> RunRecord:
    logs = {radar.id: RadarLog(radar.id, fed_s=60.0, exit_codes=[0]) for radar in SCENARIO.radars}
    return RunRecord(
        SCENARIO, TRUTH, START_MS, 1.0, Registered({}, {}, ("owner-a", "owner-b"), "key"), logs, [], {}, {}, [],
        infractions, {p["event_id"]: p for p in passages},
    )  # fmt: skip


ALL_PASSAGES = [passage(p) for p in (*FAST, *SLOW)]
GOOD = (ALL_PASSAGES, [infraction(*FAST, 119, "owner-a")])


def failing(result: dict[str, Any]) -> set[str]:
    return {i["name"] for i in result["invariants"] if not i["holds"]}


def test_the_truth_is_judged_by_centrals_rule_on_the_true_times() -> None:
    fast, slow = (report.judge_trip(SCENARIO, TRUTH, trip, report.load_fine_schedule()) for trip in TRUTH.trips)
    assert (fast.speed.average_speed_kmh, fast.speed.retained_speed_kmh, fast.owed) == (119, 113, True)
    assert fast.true_average_kmh == pytest.approx(120.0) and not fast.borderline
    assert (slow.speed.average_speed_kmh, slow.owed) == (71, False)
    assert not fast.spot_violation(SCENARIO), "70 and 75 km/h at the radars: it slowed down for both"


def test_a_faithful_run_passes() -> None:
    result = report.build(record(*GOOD))
    assert result["passed"] and failing(result) == set()
    counts = result["sections"]["counts"]
    assert (counts["trips"], counts["expected"], counts["found"], counts["missed"], counts["false"]) == (2, 1, 1, 0, 0)
    assert counts["expected_without_spot_violation"] == 1 and counts["pairable"] == 1
    assert result["counts"]["infractions"] == 0, "a section infraction is not a spot one"
    fast_row = result["sections"]["trips"][0]
    assert fast_row["owed"] and fast_row["infractions"] == ["i-X-1#0"] and fast_row["average_speed_kmh"] == 119


@pytest.mark.parametrize(
    ("passages", "infractions", "broken"),
    [
        (ALL_PASSAGES, [], {"section_exactly_once"}),  # owed, both passages sent, nothing issued
        (ALL_PASSAGES, [infraction(*FAST, 119, "owner-b")], {"section_exactly_once"}),  # wrong owner
        (ALL_PASSAGES, [*GOOD[1], infraction(*SLOW, 71, "owner-b")], {"no_false_section_infractions"}),
        # the entry of one vehicle paired with the exit of another
        (ALL_PASSAGES, [*GOOD[1], infraction(FAST[0], SLOW[1], 90, "owner-b")], {"no_false_section_infractions"}),
        (ALL_PASSAGES, [infraction(*FAST, 120, "owner-a")], {"section_average_speed"}),  # above the rule
        (ALL_PASSAGES, [infraction(*FAST, 118, "owner-a")], {"section_average_speed"}),
    ],
)
def test_each_section_invariant_fails_on_what_it_guards(
    passages: list[dict[str, Any]], infractions: list[dict[str, Any]], broken: set[str]
) -> None:
    result = report.build(record(passages, infractions))
    assert not result["passed"] and failing(result) == broken


@pytest.mark.parametrize(
    "exit_passage",
    [None, passage(FAST[1], plate="AB128CD"), passage(FAST[1], confidence_pm=500)],
    ids=["not sent", "misread", "not confident"],
)
def test_a_trip_whose_passages_cannot_pair_is_missed_but_not_owed(exit_passage: dict[str, Any] | None) -> None:
    passages = [passage(FAST[0]), *([exit_passage] if exit_passage else []), *(passage(p) for p in SLOW)]
    result = report.build(record(passages, []))
    assert result["passed"], failing(result)
    counts = result["sections"]["counts"]
    assert (counts["expected"], counts["pairable"], counts["missed"]) == (1, 0, 1)
    assert counts["passage_plate_misreads"] == (1 if exit_passage and exit_passage["plate"] == "AB128CD" else 0)


def test_a_trip_within_the_radars_timing_of_the_boundary_is_borderline() -> None:
    # 400 m: the retained speed crosses 80 km/h between an average of 85 and 86 km/h (−5 below 100).
    at_ms = next(ms for ms in range(16_000, 18_000) if 400 * 3600 // (ms + 40) == 85)
    boundary = Pass("X-1", 0, 10.0 + at_ms / 1000, 1, 75.0, True, "AB123CD", True, 15.0)
    truth = Truth(TRUTH.owners, TRUTH.vehicles, (), (FAST[0], boundary), (Trip("S-1", FAST[0].key, boundary.key),))
    verdict = report.judge_trip(SCENARIO, truth, truth.trips[0], report.load_fine_schedule())
    assert verdict.borderline
