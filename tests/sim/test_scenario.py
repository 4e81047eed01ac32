"""Scenario files: the shipped ones load, mistakes are one clear line, the truth is reproducible."""

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from speedledger.simulator import scenario as scenarios
from speedledger.simulator import traffic

MINIMAL = """
name = "t"
seed = 1
duration_s = 120
[[radars]]
id = "R-1"
name = "test road"
latitude = 48.0
longitude = 2.0
speed_limit_kmh = 90
"""
SECOND_RADAR = """
[[radars]]
id = "R-2"
name = "test road, further on"
latitude = 48.01
longitude = 2.0
speed_limit_kmh = 90
"""


def test_every_shipped_scenario_loads_and_lists() -> None:
    names = set(scenarios.shipped())
    assert {"demo", "smoke"} <= names
    listing = subprocess.run(
        [sys.executable, "-m", "speedledger", "sim", "scenarios"], capture_output=True, text=True, check=True
    ).stdout
    for name in names:
        loaded = scenarios.load(name)
        assert loaded.radars and loaded.duration_s > 0
        assert name in listing and loaded.description in listing


def test_a_minimal_file_gets_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(MINIMAL)
    loaded = scenarios.load(str(path))
    assert loaded.radars[0].traffic == scenarios.Traffic()
    assert loaded.registry == scenarios.Registry() and loaded.faults == ()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("colour = 'red'", "unknown key 'colour'"),
        ("[[faults]]\nkind = 'meteor'\nat_s = 1", "fault kind 'meteor'"),
        ("[[faults]]\nkind = 'radar-reboot'\nat_s = 1\nradar = 'NOPE'", "needs `radar`"),
        ("[[faults]]\nkind = 'kill-central'\nat_s = 500", "within the run"),
        ("[[sections]]\nid = 'S'\nentry = 'R-1'\nexit = 'R-9'\ndistance_m = 500\nspeed_limit_kmh = 80", "not 'R-9'"),
        ("[[sections]]\nid = 'S'\nentry = 'R-1'\nexit = 'R-1'\ndistance_m = 500\nspeed_limit_kmh = 80", "both ends"),
        ("[[sections]]\nid = 'S'\nentry = 'R-1'\nexit = 'R-2'\ndistance_m = 5\nspeed_limit_kmh = 80", "distance_m"),
        (
            "[[sections]]\nid = 'S'\nentry = 'R-1'\nexit = 'R-2'\ndistance_m = 500\nspeed_limit_kmh = 80\n"
            "[sections.traffic]\nthrough_share = 2",
            "shares between 0 and 1",
        ),
        (
            "[[sections]]\nid = 'S'\nentry = 'R-1'\nexit = 'R-2'\ndistance_m = 500\nspeed_limit_kmh = 80\nlanes = 2",
            "unknown key 'lanes'",
        ),
    ],
)
def test_mistakes_are_one_line_naming_the_file(tmp_path: Path, extra: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    top_level = "[" not in extra  # a plain key goes before the first table, a table at the end
    text = MINIMAL.replace('name = "t"', f'name = "t"\n{extra}') if top_level else MINIMAL + SECOND_RADAR + extra
    path.write_text(text)
    with pytest.raises(scenarios.ScenarioError, match=message) as caught:
        scenarios.load(str(path))
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_a_missing_scenario_names_the_shipped_ones() -> None:
    with pytest.raises(scenarios.ScenarioError, match="demo"):
        scenarios.load("no-such-scenario")


def test_the_truth_is_seeded_and_has_a_compliant_majority() -> None:
    loaded = scenarios.load("a6-rush-hour")
    first, second = traffic.generate(loaded), traffic.generate(loaded)
    assert first == second
    speeding = [p for p in first.passes if traffic.is_violation(loaded.radar(p.radar_id), p.speed_kmh)]
    assert 0.05 < len(speeding) / len(first.passes) < 0.5
    assert {p.lane for p in first.passes} == {1, 2}, "overtaking uses the second lane"
    transfer = first.transfers[0]
    seller = next(v.owner for v in first.vehicles if v.plate == transfer.plate)
    assert first.owner_at(transfer.plate, transfer.at_s - 1) == seller
    assert first.owner_at(transfer.plate, transfer.at_s + 1) == transfer.to_owner
    assert first.owner_at("ZZ999ZZ", 0) is None


def test_a_section_road_drives_the_entry_radar_s_vehicles_on_to_the_exit() -> None:
    loaded = scenarios.load("section")
    (section,) = loaded.sections
    truth = traffic.generate(loaded)
    assert truth == traffic.generate(loaded) and truth.trips
    for trip in truth.trips:
        entry, exit_pass = truth.pass_by_key(trip.entry), truth.pass_by_key(trip.exit)
        assert (entry.radar_id, exit_pass.radar_id, exit_pass.plate) == (section.entry, section.exit, entry.plate)
        assert 0 < exit_pass.t_s - entry.t_s <= section.distance_m / (10 / 3.6)
        assert exit_pass.t_s < loaded.duration_s - 3, "the whole trip lies inside the run"
    for radar_id in (section.entry, section.exit):
        plates = [p.plate for p in truth.passes if p.radar_id == radar_id]
        assert len(plates) == len(set(plates)), "each vehicle passes each radar of a section once"
    averages = [section.distance_m * 3.6 / (truth.pass_by_key(t.exit).t_s - truth.pass_by_key(t.entry).t_s)
                for t in truth.trips]  # fmt: skip
    assert min(averages) < section.speed_limit_kmh < max(averages)


def test_the_demo_section_has_a_car_braking_for_both_radars_and_a_compliant_one() -> None:
    from speedledger.simulator.report import judge_trip, load_fine_schedule

    loaded = scenarios.load("demo")
    truth = traffic.generate(loaded)
    verdicts = [judge_trip(loaded, truth, trip, load_fine_schedule()) for trip in truth.trips]
    assert any(v.owed and not v.borderline and not v.spot_violation(loaded) for v in verdicts)
    assert any(not v.owed and not v.borderline for v in verdicts)


def test_on_a_one_lane_section_a_vehicle_that_catches_up_follows() -> None:
    loaded = scenarios.load("demo")
    (section,) = loaded.sections
    assert loaded.radar(section.exit).lanes == 1
    truth = traffic.generate(loaded)
    exits = [truth.pass_by_key(trip.exit).t_s for trip in truth.trips]  # in the order they entered
    assert len(exits) >= 3
    assert all(later - earlier >= traffic.EXIT_HEADWAY_S - 0.001 for earlier, later in itertools.pairwise(exits))
