"""`make demo` end to end: embedded broker + central + four real radar agents under the demo scenario, two of
them a section."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path


def test_demo_runs_the_demo_scenario_and_passes_its_report(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "speedledger.demo"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    output = completed.stdout
    assert completed.returncode == 0, output + completed.stderr
    report = json.loads((tmp_path / "demo" / "report.json").read_text())
    assert report["scenario"] == "demo" and report["passed"]
    assert [fault["kind"] for fault in report["faults"]] == ["kill-central"]
    assert report["counts"]["infractions"] > 0 and len(report["infractions_per_radar"]) == 3
    sections = report["sections"]
    assert sections["counts"]["found"] >= 1 and sections["counts"]["false"] == 0
    braked = [t for t in sections["trips"] if t["infractions"] and not t["spot_violation"]]
    compliant = [t for t in sections["trips"] if not t["owed"] and not t["infractions"] and t["exit_passage"]]
    assert braked and compliant, "a car fined for its average speed although it braked for both radars, and one not"
    assert f"{braked[0]['plate']}: " in output and "(no spot violation)" in output
    assert f"{compliant[0]['plate']}: " in output and "compliant, no infraction" in output
    assert "Report: " in output and "report.html" in output
    assert "/docs" in output and "admin token" in output
    # A spot and a section infraction's evidence check offline; the section one again once the window closed.
    assert output.count("verdict: VERIFIED") == 3
    forgotten = sections["counts"]["passages_sent"] - 2 * sections["counts"]["found"]
    flat = " ".join(output.split())  # the console wraps long lines
    assert f"Window closed, its key destroyed: {forgotten} passages forgotten" in flat
    assert f"{compliant[0]['plate']}'s two images in central's database files: none" in flat
    exports = sorted((tmp_path / "demo").glob("infraction-*.zip"))
    kinds = {json.loads(zipfile.ZipFile(export).read("manifest.json")).get("kind", "spot") for export in exports}
    assert kinds == {"spot", "section"}
