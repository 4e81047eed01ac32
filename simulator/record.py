"""`speedledger sim record`: a scenario's passes, IQ WAVs and camera frames in a folder, replayable one by one.

Each radar gets `<radar>/roadside.wav` and `<radar>/camera/` (simulator/roadside.py), which
`speedledger edge run --source roadside.wav --camera camera ...` replays and `speedledger edge
measure roadside.wav --angle-deg A` measures; `passes.csv` holds the truth (simulator/passlog.py).
The WAV is synthesised in one piece: minutes, not hours, of traffic.
"""

from __future__ import annotations

from pathlib import Path

from speedledger.simulator import passlog
from speedledger.simulator.fleet import radar_scene, radar_seed
from speedledger.simulator.roadside import write_recording
from speedledger.simulator.scenario import Scenario
from speedledger.simulator.traffic import generate


def record(scenario: Scenario, out: Path) -> list[str]:
    """Write the recordings; returns, per radar, the `speedledger edge measure` line that measures it."""
    truth = generate(scenario)
    out.mkdir(parents=True, exist_ok=True)
    passlog.write(out / "passes.csv", truth.passes)
    commands = []
    for radar in scenario.radars:
        passes = [p for p in truth.passes if p.radar_id == radar.id]
        directory = out / radar.id
        directory.mkdir(exist_ok=True)
        plates = [p.plate if p.readable else None for p in passes]  # an unreadable plate: no usable frame
        scene = radar_scene(scenario, radar, passes)
        wav, _ = write_recording(directory, scene, plates, radar_seed(scenario, radar))
        commands.append(f"speedledger edge measure {wav} --angle-deg {radar.angle_deg:g}")
    return commands
