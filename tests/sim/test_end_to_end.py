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


@pytest.mark.postgres
def test_section_scenario_fines_average_speed_against_the_truth(
    mosquitto: Mosquitto, postgres_url: str, tmp_path: Path
) -> None:
    """Two radars of a section: vehicles braking for both radars are fined for their average speed, with
    the entry radar offline (its passages reach central after the exits') and central killed mid-run.

    On PostgreSQL only: a section on central's SQLite store, with a kill -9 of central mid-run, is the
    demo's (tests/e2e/test_demo.py, its report's section invariants), and exits reaching central before
    their entries are paired on both stores in tests/central/test_section_pairing.py."""
    scenario = load("section")
    (section,) = scenario.sections
    workdir = tmp_path / "run"
    workdir.mkdir()
    with deployment.local(workdir, postgres_url, broker=mosquitto) as target:
        record = run_scenario(scenario, target, workdir, speedup=8.0)
        with target.api() as api:
            created = api.get(f"/api/v1/sections/{section.id}").raise_for_status().json()
            ambiguities = api.get(f"/api/v1/sections/{section.id}/ambiguities").raise_for_status().json()
    result = report.build(record)
    failed = [i for i in result["invariants"] if not i["holds"]]
    assert not failed, failed
    assert {"no_false_section_infractions", "section_average_speed", "section_exactly_once"} <= {
        i["name"] for i in result["invariants"]
    }
    assert (created["entry_radar_id"], created["distance_m"]) == (section.entry, section.distance_m)
    assert ambiguities == [], "each vehicle passes each radar once: nothing to list for an operator"
    counts = result["sections"]["counts"]
    assert counts["pairable"] >= 3 and counts["found"] >= counts["pairable"] and counts["false"] == 0
    assert counts["expected_without_spot_violation"] >= 1, "a car braking for both radars is still fined"
    section_infractions = [i for i in record.infractions if i["kind"] == "section"]
    assert len(section_infractions) == counts["found"]
    assert all(i["radar_id"] == section.exit and i["section_id"] == section.id for i in section_infractions)
    cut_start, cut_end = record.radars[section.entry].offline[0]
    late = [
        trip for trip in result["sections"]["trips"]
        if cut_start <= trip["entry_t_s"] <= cut_end and trip["exit_t_s"] < cut_end and trip["infractions"]
    ]  # fmt: skip
    assert late, "an exit paired with an entry that reached central after it"
    text = report_html.write(result, tmp_path / "report").read_text()
    assert "<h2>Sections</h2>" in text and "PASSED" in text
