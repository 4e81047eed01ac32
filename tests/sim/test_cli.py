"""`speedledger sim run|replay` from the command line: a replayed log end to end, and user errors in one line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.mosquitto import Mosquitto

LOG = """time_s,radar,lane,speed_kmh,plate
6.0,SIM-D7-001,1,131.25,AB-123-CD
14.0,SIM-D7-001,1,72.4,EF456GH
20.0,SIM-D7-002,1,104.9,AB123CD
30.0,SIM-D7-002,1,61.0,JK789LM
"""


def sim(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "speedledger", "sim", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=400, check=False,
    )  # fmt: skip


@pytest.mark.mosquitto
def test_a_replayed_log_drives_the_fleet_to_its_infractions(mosquitto: Mosquitto, tmp_path: Path) -> None:
    (tmp_path / "passes.csv").write_text(LOG)
    env = os.environ | {"SPEEDLEDGER_MQTT": mosquitto.url}
    completed = sim("replay", "passes.csv", "--scenario", "radar-faults", "--speedup", "8", "--report", "out",
                    cwd=tmp_path, env=env)  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["counts"]["passes"] == 4 and report["counts"]["true_violations"] == 2
    speeders = [row for row in report["passes"] if row["true_violation"]]
    assert {row["true_plate"] for row in speeders} == {"AB123CD"}, "the log's plates, normalised"
    assert [len(row["infractions"]) for row in report["passes"]] == [1, 0, 1, 0]
    assert "ok   exactly_once" in completed.stdout and (tmp_path / "out" / "report.html").exists()


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("run", "no-such-scenario"), {}, "error: no-such-scenario: no such scenario file or shipped scenario"),
        (
            ("run", "smoke"),
            {"SPEEDLEDGER_HTTP": "127.0.0.1:9"},
            "error: SPEEDLEDGER_HTTP is set: also set SPEEDLEDGER_TOKEN",
        ),
        (("replay", "missing.csv", "--scenario", "smoke"), {}, "error: missing.csv: cannot read"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    completed = sim(*args, cwd=tmp_path, env=os.environ | env)
    assert completed.returncode == 2
    (line,) = completed.stderr.strip().splitlines()
    assert line.startswith(message)
