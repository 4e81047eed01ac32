"""`speedledger sim record`: the recordings measure, with `speedledger edge measure`, as the truth says."""

import csv
import json
import subprocess
import sys
from pathlib import Path

from speedledger.simulator.scenario import load, shipped
from speedledger.simulator.traffic import generate, shares_beam


def first_radar_only(name: str, directory: Path) -> Path:
    """The shipped scenario `name` cut after its first radar (no second radar, no faults), as a TOML file:
    the radar measured here, with the same traffic, and half the IQ to synthesise."""
    text = shipped()[name].read_text()
    second = text.index("[[radars]]", text.index("[[radars]]") + 1)
    path = directory / f"{name}-first-radar.toml"
    path.write_text(text[:second])
    return path


def test_recorded_iq_measures_to_the_true_speeds(tmp_path: Path) -> None:
    smoke = first_radar_only("smoke", tmp_path)
    scenario = load(str(smoke))
    (radar,) = scenario.radars
    assert radar == load("smoke").radars[0]
    out = tmp_path / "recording"
    subprocess.run([sys.executable, "-m", "speedledger", "sim", "record", str(smoke), "--out", str(out)], check=True)
    with (out / "passes.csv").open() as handle:
        logged = [row for row in csv.DictReader(handle) if row["radar"] == radar.id]
    alone = [
        p
        for p in generate(scenario).passes
        if p.radar_id == radar.id and p.key not in shares_beam(generate(scenario).passes)
    ]
    assert len(logged) >= len(alone) >= 3
    measured = subprocess.run(
        [sys.executable, "-m", "speedledger", "edge", "measure", str(out / radar.id / "roadside.wav"),
         "--angle-deg", str(radar.angle_deg), "--json"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    passes = [json.loads(line) for line in measured.splitlines()]
    for true_pass in alone:
        nearest = min(passes, key=lambda p: abs(p["t_ms"] - true_pass.t_s * 1000))
        assert abs(nearest["t_ms"] - true_pass.t_s * 1000) < 300
        assert abs(nearest["speed_kmh"] - true_pass.speed_kmh) < 0.2
    frames = {int(path.stem) for path in (out / radar.id / "camera").iterdir()}
    assert {round(p.t_s * 1000) for p in alone if p.readable} <= frames
