"""The report's invariants, on hand-made runs: each one fails when what it guards goes wrong."""

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from speedledger.simulator import report
from speedledger.simulator.fleet import Journaled, RadarLog
from speedledger.simulator.registry import Registered
from speedledger.simulator.run import RunRecord
from speedledger.simulator.scenario import Radar, Registry, Scenario
from speedledger.simulator.traffic import Owner, Pass, RegisteredVehicle, Truth

START_MS = 1_800_000_000_000
RADAR = Radar("R-1", "road", 48.0, 2.0, speed_limit_kmh=90)
SCENARIO = Scenario("hand", "", 1, 60.0, (RADAR,), Registry(owners=2, vehicles=1, transfers=0))
SPEEDER = Pass("R-1", 0, 10.0, 1, 120.0, True, "AB123CD", True, 15.0)
COMPLIANT = Pass("R-1", 1, 30.0, 1, 80.0, True, "AB123CD", True, 15.0)
TRUTH = Truth(
    (Owner("A", "1980-01-01", "a@example.org"), Owner("B", "1981-01-01", "b@example.org")),
    (RegisteredVehicle("AB123CD", "Renault", "Clio", 0),),
    (),
    (SPEEDER, COMPLIANT),
)


def violation(vehicle_pass: Pass, event_id: str, speed_kmh: float, plate: str) -> Journaled:
    message = {
        "event_id": event_id, "radar_id": "R-1", "detected_at_ms": START_MS + round(vehicle_pass.t_s * 1000) + 40,
        "measured_speed_ckmh": round(speed_kmh * 100), "plate": plate,
    }  # fmt: skip
    return Journaled("R-1", message, 0.0)


def infraction(event_id: str, owner_id: str | None) -> dict[str, Any]:
    return {"infraction_id": f"i-{event_id}", "event_id": event_id, "radar_id": "R-1", "owner_id": owner_id}


def record(journaled: list[Journaled], infractions: list[dict[str, Any]], exit_code: int = 0) -> RunRecord:
    return RunRecord(
        SCENARIO, TRUTH, START_MS, 1.0, Registered({}, {}, ("owner-a", "owner-b"), "key"),
        {"R-1": RadarLog("R-1", fed_s=60.0, exit_codes=[exit_code])}, journaled, {}, {}, [12.0], infractions,
    )  # fmt: skip


GOOD = ([violation(SPEEDER, "e1", 120.01, "AB123CD")], [infraction("e1", "owner-a")])


def failing(result: dict[str, Any]) -> set[str]:
    return {i["name"] for i in result["invariants"] if not i["holds"]}


def test_a_faithful_run_passes(tmp_path: Path) -> None:
    result = report.build(record(*GOOD))
    assert result["passed"] and failing(result) == set()
    assert result["counts"]["measurable_true_violations"] == 1 and result["detection_rate"] == 1.0
    assert result["speed_error_kmh"]["max"] == pytest.approx(0.01, abs=1e-6)


@pytest.mark.parametrize(
    ("journaled", "infractions", "exit_code", "broken"),
    [
        ([], [], 0, {"exactly_once"}),  # the true violation was lost
        (GOOD[0], [*GOOD[1], infraction("e1", "owner-a")], 0, {"exactly_once"}),  # one event, two infractions
        (GOOD[0], [infraction("e1", "owner-b")], 0, {"exactly_once"}),  # charged to the wrong owner
        ([violation(SPEEDER, "e1", 120.01, "AB128CD")], [infraction("e1", None)], 0, {"no_confident_misreads"}),
        ([violation(SPEEDER, "e1", 120.4, "AB123CD")], GOOD[1], 0, {"speed_error"}),
        (
            [*GOOD[0], violation(COMPLIANT, "e2", 80.01, "AB123CD")],
            [*GOOD[1], infraction("e2", "owner-a")],
            0,
            {"no_false_violations"},
        ),
        (GOOD[0], [*GOOD[1], infraction("ghost", None)], 0, {"no_false_violations"}),  # no true pass behind it
        (*GOOD, 2, {"journals_drained"}),
    ],
)
def test_each_invariant_fails_on_what_it_guards(
    journaled: list[Journaled], infractions: list[dict[str, Any]], exit_code: int, broken: set[str]
) -> None:
    result = report.build(record(journaled, infractions, exit_code))
    assert not result["passed"] and failing(result) == broken


def test_an_unread_plate_is_owed_an_unidentified_infraction() -> None:
    unread = [violation(SPEEDER, "e1", 120.0, "")]
    assert report.build(record(unread, [infraction("e1", None)]))["passed"]
    assert failing(report.build(record(unread, [infraction("e1", "owner-a")]))) == {"exactly_once"}


def test_a_pass_while_the_radar_rebooted_is_not_owed() -> None:
    rebooted = record([], [])
    rebooted.radars["R-1"] = replace(rebooted.radars["R-1"], down=[(9.0, 12.0)])
    assert report.build(rebooted)["passed"]
