"""A short seeded scenario end to end: real radar agents, real mosquitto, central on SQLite and on
PostgreSQL, with a kill -9 of central and a broker restart; the report's invariants must all hold."""

from pathlib import Path

import pytest

from speedledger.simulator import deployment, report, report_html
from speedledger.simulator.run import run_scenario
from speedledger.simulator.scenario import load
from tests.fixtures.mosquitto import Mosquitto

pytestmark = pytest.mark.mosquitto


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def central_db(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """None: central's own SQLite file in the run folder; else a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_smoke_scenario_meets_every_invariant_across_faults(
    mosquitto: Mosquitto, central_db: str | None, tmp_path: Path
) -> None:
    scenario = load("smoke")
    assert {fault.kind for fault in scenario.faults} == {"kill-central", "restart-broker"}
    workdir = tmp_path / "run"
    workdir.mkdir()
    with deployment.local(workdir, central_db, broker=mosquitto) as target:
        record = run_scenario(scenario, target, workdir, speedup=10.0)
    result = report.build(record)
    assert [kind for _, kind in record.faults_applied] == ["kill-central", "restart-broker"]
    failed = [i for i in result["invariants"] if not i["holds"]]
    assert not failed, failed
    counts = result["counts"]
    assert counts["false_violations"] == 0 and counts["confident_misreads"] == 0
    assert counts["measurable_true_violations"] >= 2, "the scenario must exercise exactly-once"
    assert counts["violations_sent"] == counts["acked"] == counts["infractions"]
    assert result["speed_error_kmh"]["max"] <= 0.2
    page = report_html.write(result, tmp_path / "report")
    text = page.read_text()
    assert "PASSED" in text and text.count("data:image/png;base64,") == 5 and "http" not in text


def test_radar_faults_lose_nothing(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """An uplink cut (the journal holds, then drains), a reboot mid-send (SIGKILL) and a fast clock."""
    scenario = load("radar-faults")
    workdir = tmp_path / "run"
    workdir.mkdir()
    with deployment.local(workdir, None, broker=mosquitto) as target:
        record = run_scenario(scenario, target, workdir, speedup=8.0)
    result = report.build(record)
    failed = [i for i in result["invariants"] if not i["holds"]]
    assert not failed, failed
    offline_radar = next(f.radar for f in scenario.faults if f.kind == "radar-offline")
    rebooted = next(f.radar for f in scenario.faults if f.kind == "radar-reboot")
    assert record.radars[offline_radar].offline and record.radars[rebooted].exit_codes == [-9, 0]
    cut_start, cut_end = record.radars[offline_radar].offline[0]
    held = [
        row for row in result["passes"]
        if row["radar_id"] == offline_radar and cut_start <= row["t_s"] <= cut_end and row["infractions"]
    ]  # fmt: skip
    assert held, "a violation measured while the radar was offline reached central afterwards"
    assert max(depth for _, depth in result["journal_depth"]) >= 1
