"""Pass logs: a scenario's truth round-trips through CSV; a bad log is one line naming file and line."""

from pathlib import Path

import pytest

from speedledger.simulator import passlog
from speedledger.simulator.scenario import ScenarioError, load
from speedledger.simulator.traffic import generate


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
