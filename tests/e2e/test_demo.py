"""`make demo` end to end: embedded broker + central + three real radar agents under the demo scenario."""

import json
import subprocess
import sys
from pathlib import Path


def test_demo_runs_the_demo_scenario_and_passes_its_report(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "speedledger.demo"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    output = completed.stdout
    assert completed.returncode == 0, output + completed.stderr
    report = json.loads((tmp_path / "demo" / "report.json").read_text())
    assert report["scenario"] == "demo" and report["passed"]
    assert [fault["kind"] for fault in report["faults"]] == ["kill-central"]
    assert report["counts"]["infractions"] > 0 and len(report["infractions_per_radar"]) == 3
    assert "Report: " in output and "report.html" in output
    assert "/docs" in output and "admin token" in output
    assert "verdict: VERIFIED" in output, "an exported infraction's evidence checks offline"
