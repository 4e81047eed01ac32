"""Pass logs: a scenario's truth round-trips through CSV; a bad log is one line naming file and line."""

from pathlib import Path

import pytest

from speedledger.simulator import passlog
from speedledger.simulator.scenario import ScenarioError, load
from speedledger.simulator.traffic import Truth, generate


def test_a_written_log_reads_back_as_the_same_passes(tmp_path: Path) -> None:
    scenario = load("smoke")
    truth = generate(scenario)
    path = tmp_path / "passes.csv"
    passlog.write(path, truth.passes)
    replayed = passlog.read(path, scenario)
    key = lambda p: (p.radar_id, p.t_s)  # noqa: E731
    for original, read in zip(sorted(truth.passes, key=key), sorted(replayed.passes, key=key), strict=True):
        assert (read.radar_id, read.t_s, read.lane, read.speed_kmh, read.plate) == (
            original.radar_id, original.t_s, original.lane, original.speed_kmh, original.plate,
        )  # fmt: skip
        assert read.approaching == original.approaching
    assert {v.plate for v in replayed.vehicles} == {p.plate for p in truth.passes}, "every plate is registered"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1.0,NOPE,1,90,AB123CD", "radar 'NOPE' is not in scenario smoke"),
        ("x,SIM-N7-001,1,90,AB123CD", "needs time_s, radar, lane, speed_kmh, plate"),
        ("500,SIM-N7-001,1,90,AB123CD", "time within"),
    ],
)
def test_a_bad_line_is_named(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "passes.csv"
    path.write_text("time_s,radar,lane,speed_kmh,plate\n5.0,SIM-N7-001,1,95.5,AB-123-CD\n" + line + "\n")
    with pytest.raises(ScenarioError, match=message) as caught:
        passlog.read(path, load("smoke"))
    assert f"{path}:3" in str(caught.value)


def test_a_section_s_trips_are_found_again_in_its_log(tmp_path: Path) -> None:
    scenario = load("section")
    truth = generate(scenario)
    path = tmp_path / "passes.csv"
    passlog.write(path, truth.passes)
    replayed = passlog.read(path, scenario)

    def trips(of: Truth) -> set[tuple[float, float, str]]:
        return {
            (of.pass_by_key(t.entry).t_s, of.pass_by_key(t.exit).t_s, of.pass_by_key(t.entry).plate) for t in of.trips
        }

    assert trips(replayed) == trips(truth) and truth.trips


def test_a_plate_twice_at_the_entry_is_no_trip(tmp_path: Path) -> None:
    scenario = load("section")
    (section,) = scenario.sections
    path = tmp_path / "passes.csv"
    rows = [
        f"{t_s},{radar_id},1,70,{plate}"
        for t_s, radar_id, plate in [
            (5.0, section.entry, "AB123CD"), (9.0, section.entry, "AB123CD"), (20.0, section.exit, "AB123CD"),
            (6.0, section.entry, "CD456EF"), (21.0, section.exit, "CD456EF"),
        ]
    ]  # fmt: skip
    path.write_text("time_s,radar,lane,speed_kmh,plate\n" + "\n".join(rows) + "\n")
    replayed = passlog.read(path, scenario)
    assert [replayed.pass_by_key(t.entry).plate for t in replayed.trips] == ["CD456EF"]
