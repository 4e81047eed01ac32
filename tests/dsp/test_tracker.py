"""The portable pass tracker on hand-made detections, on CPython and on the real MicroPython."""

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from speedledger.edge.core.rejection import CLUTTER, INTERFERER, SHARED_BEAM, UNRESOLVED
from speedledger.edge.core.tracker import (
    INCOMPLETE,
    UNSTEADY,
    Detection,
    PassTracker,
    TrackerConfig,
    VehiclePass,
)
from tests.conftest import missing_dependency

HOP_MS = 8
Frames = list[tuple[int, list[tuple[float, float]]]]


def vehicle(speed: float, centre_ms: int, peak_snr: float, half_width_ms: int, rng: np.random.Generator) -> Frames:
    """Frames of one vehicle: SNR falling off around its centre, speed with a little noise."""
    frames: Frames = []
    for t in range(centre_ms - half_width_ms, centre_ms + half_width_ms + 1, HOP_MS):
        snr = peak_snr - 12.0 * ((t - centre_ms) / half_width_ms) ** 2
        frames.append((t, [(speed + float(rng.normal(0, 0.02)), snr)]))
    return frames


def merge(*scenes: Frames) -> Frames:
    by_time: dict[int, list[tuple[float, float]]] = {}
    for scene in scenes:
        for t, detections in scene:
            by_time.setdefault(t, []).extend(detections)
    times = sorted(set(by_time) | set(range(min(by_time), max(by_time) + 20 * HOP_MS, HOP_MS)))
    return [(t, by_time.get(t, [])) for t in times]


def track(frames: Frames, config: TrackerConfig | None = None) -> list[VehiclePass]:
    tracker = PassTracker(config)
    passes: list[VehiclePass] = []
    for t, detections in frames:
        passes.extend(tracker.update(t, [Detection(speed, snr) for speed, snr in detections]))
    return passes + tracker.flush()


def test_one_vehicle_one_pass_weighted_by_snr() -> None:
    frames = vehicle(87.3, 1000, 30.0, 120, np.random.default_rng(1))
    (result,) = track(frames)
    assert result.valid and result.direction == "approaching"
    assert abs(result.speed_kmh - 87.3) < 0.02
    assert abs(result.t_ms - 1000) <= HOP_MS
    assert result.frames == len(frames) and result.snr_db == pytest.approx(30.0)
    assert result.as_measurement() == {
        "t_ms": result.t_ms,
        "speed_kmh": round(result.speed_kmh, 2),
        "direction": "approaching",
        "snr_db": 30.0,
        "frames": len(frames),
    }


def test_passes_come_out_once_the_vehicle_has_left() -> None:
    tracker = PassTracker(TrackerConfig(max_gap_ms=100))
    out = [tracker.update(t, [Detection(-50.0, 20.0)]) for t in range(0, 200, HOP_MS)]
    assert not any(out)
    assert tracker.update(280, []) == [] and tracker.update(300, [])[0].direction == "receding"


def test_too_few_frames_is_noise() -> None:
    assert track([(t, [(120.0, 15.0)]) for t in range(0, 4 * HOP_MS, HOP_MS)]) == []


def test_a_speed_that_drifts_is_unsteady() -> None:
    frames: Frames = [(t, [(100.0 + t / 40.0, 25.0)]) for t in range(0, 240, HOP_MS)]
    (result,) = track(frames, TrackerConfig(gate_kmh=2.0))
    assert result.invalid == UNSTEADY


def bending_pass(speed: float, fall: float, rng: np.random.Generator) -> Frames:
    """A vehicle at a steady level whose signed speed falls by about `fall` of itself along a smooth
    bend through the pass, as through a real beam whose line of sight turns."""
    frames: Frames = []
    for t in range(0, 300, HOP_MS):
        x = t / 300 - 0.5
        frames.append((t, [(speed - fall * abs(speed) * (x + 0.3 * x * x) + float(rng.normal(0, 0.02)), 25.0)]))
    return frames


@pytest.mark.parametrize("speed", [90.0, -90.0, 200.0])
def test_the_drift_through_a_real_beam_is_steady_when_the_installation_explains_it(speed: float) -> None:
    rng = np.random.default_rng(11)
    frames = bending_pass(speed, 0.03, rng)
    (result,) = track(frames, TrackerConfig(beam_drift=0.05))
    assert result.valid, result
    assert min(abs(v) for _, [(v, _)] in frames) <= result.speed_kmh <= max(abs(v) for _, [(v, _)] in frames)
    (constant_angle,) = track(frames)  # the same pass where the angle cannot change: refused
    assert constant_angle.invalid in (UNSTEADY, UNRESOLVED)


@pytest.mark.parametrize("speed", [90.0, -90.0])
def test_a_speed_that_rises_through_the_beam_is_unsteady(speed: float) -> None:
    """No geometry makes a vehicle's signed speed rise through the beam: the drift allowance is one-sided."""
    (rising,) = track(bending_pass(speed, -0.03, np.random.default_rng(12)), TrackerConfig(beam_drift=0.05))
    assert rising.invalid == UNSTEADY


def test_a_pass_through_a_real_beam_that_stops_at_its_peak_level_is_incomplete() -> None:
    """Its near side was lost (the Doppler swept too fast there to detect): what is left leans to the
    far side, which reads high. Inside the stream, not at its ends; a constant angle has no such side."""
    rng = np.random.default_rng(14)
    rising_to_the_end = [(t, [(v, snr)]) for t, [(v, snr)] in vehicle(90.0, 1000, 30.0, 150, rng) if t <= 1000]
    frames = merge(rising_to_the_end, [(600, []), (1400, [])])
    (through_a_beam,) = track(frames, TrackerConfig(beam_drift=0.05, edge_rise_db=6.0))
    (constant_angle,) = track(frames, TrackerConfig(edge_rise_db=6.0))
    assert (through_a_beam.invalid, constant_angle.invalid) == (INCOMPLETE, None)


def test_two_cars_in_a_row_do_not_pass_for_the_beam_drift() -> None:
    """A faster car handing over to a slower one also falls, but in a step that no parabola follows."""
    rng = np.random.default_rng(13)
    frames = [(t, [(100.0 if t < 1000 else 98.5, snr)]) for t, [(_, snr)] in vehicle(100.0, 1000, 30.0, 150, rng)]
    (result,) = track(frames, TrackerConfig(beam_drift=0.05))
    assert result.invalid == UNRESOLVED


def test_mirror_image_and_wheel_satellites_are_not_vehicles() -> None:
    rng = np.random.default_rng(2)
    body = vehicle(90.0, 1000, 40.0, 150, rng)
    image = [(t, [(-90.0, snr - 30.0)]) for t, [(_, snr)] in body]
    wheel = [(t, [(135.0 + float(rng.normal(0, 0.05)), 22.0)]) for t, _ in body[5:-5]]
    (result,) = track(merge(body, image, wheel))
    assert result.valid and abs(result.speed_kmh - 90.0) < 0.02


def test_overlapping_vehicles_resolved_and_dominant_at_their_peaks_are_both_valid() -> None:
    rng = np.random.default_rng(3)
    passes = track(merge(vehicle(130.0, 1000, 30.0, 150, rng), vehicle(95.0, 1250, 30.0, 150, rng)))
    assert [(round(p.speed_kmh), p.valid) for p in passes] == [(130, True), (95, True)]


def test_side_by_side_vehicles_share_the_beam() -> None:
    rng = np.random.default_rng(4)
    passes = track(merge(vehicle(130.0, 1000, 30.0, 150, rng), vehicle(95.0, 1010, 28.0, 150, rng)))
    assert [p.invalid for p in passes] == [SHARED_BEAM, SHARED_BEAM]


def test_vehicles_closer_in_speed_than_the_resolution_are_unresolved() -> None:
    rng = np.random.default_rng(5)
    passes = track(merge(vehicle(100.0, 1000, 30.0, 150, rng), vehicle(97.5, 1200, 30.0, 150, rng)))
    assert passes and {p.invalid for p in passes} == {UNRESOLVED}


def test_vehicles_below_the_minimum_speed_are_not_reported() -> None:
    frames = vehicle(8.0, 1000, 30.0, 300, np.random.default_rng(6))
    assert track(frames, TrackerConfig(min_speed_kmh=10.0)) == []


def raindrops(count: int, start_ms: int, end_ms: int, rng: np.random.Generator) -> Frames:
    """Short-lived scatterers at random low speeds, each a few frames rising and falling."""
    frames: Frames = []
    for _ in range(count):
        speed = float(rng.uniform(-25, 25))
        birth = int(rng.integers(start_ms // HOP_MS, end_ms // HOP_MS)) * HOP_MS
        life = int(rng.integers(5, 12))
        for k in range(life):
            frames.append((birth + k * HOP_MS, [(speed, 30.0 - 20.0 * abs(2 * k / (life - 1) - 1))]))
    return frames


def tone(speed: float, start_ms: int, end_ms: int, snr: float, rng: np.random.Generator) -> Frames:
    """A constant line: the same speed and level in every frame."""
    return [(t, [(speed, snr + float(rng.normal(0, 0.5)))]) for t in range(start_ms, end_ms, HOP_MS)]


def test_short_lived_scatterers_are_clutter_and_share_no_beam() -> None:
    rng = np.random.default_rng(8)
    tracker = PassTracker(keep_rejected=True)
    frames = merge(vehicle(100.0, 1000, 30.0, 150, rng), raindrops(60, 700, 1300, rng))
    passes = [p for t, detections in frames for p in tracker.update(t, [Detection(*d) for d in detections])]
    (result,) = passes + tracker.flush()
    assert result.valid and abs(result.speed_kmh - 100.0) < 0.02
    assert tracker.rejected and {p.invalid for p in tracker.rejected} == {CLUTTER}


def test_a_line_outlasting_any_vehicle_is_an_interferer_and_shares_no_beam() -> None:
    rng = np.random.default_rng(9)
    tracker = PassTracker(keep_rejected=True)
    frames = merge(vehicle(100.0, 2000, 30.0, 150, rng), tone(67.0, 0, 4000, 40.0, rng))
    passes = [p for t, detections in frames for p in tracker.update(t, [Detection(*d) for d in detections])]
    (result,) = passes + tracker.flush()
    assert result.valid and abs(result.speed_kmh - 100.0) < 0.02
    assert [(round(p.speed_kmh), p.invalid) for p in tracker.rejected or []] == [(67, INTERFERER)]


def test_a_line_whose_level_never_falls_is_an_interferer_even_when_short() -> None:
    rng = np.random.default_rng(10)
    frames = merge([(0, [])], tone(40.0, 200, 3200, 25.0, rng))  # 33 m of road at 40 km/h, its level flat
    assert track(frames) == []


def test_a_line_the_dsp_notched_is_an_interferer_though_it_stopped_at_its_peak() -> None:
    """The DSP notches a steady line as soon as it knows it (PassTracker.interferer): the track built
    from its first stretch then ends at full level, which alone would pass for a short vehicle."""
    rng = np.random.default_rng(13)
    frames = merge([(0, [])], tone(67.0, 400, 1400, 30.0, rng), vehicle(100.0, 2000, 30.0, 150, rng))
    assert [round(p.speed_kmh) for p in track(frames) if p.valid] == [67, 100]
    tracker = PassTracker(keep_rejected=True)
    passes = []
    for t, detections in frames:
        passes.extend(tracker.update(t, [Detection(*d) for d in detections]))
        if t == 1392:
            tracker.interferer(67.0, 8.0)
    passes.extend(tracker.flush())
    assert [(round(p.speed_kmh), p.valid) for p in passes] == [(100, True)]
    assert [(round(p.speed_kmh), p.invalid) for p in tracker.rejected or []] == [(67, INTERFERER)]


def test_clutter_or_an_interferer_too_close_in_speed_leaves_the_vehicle_unresolved() -> None:
    rng = np.random.default_rng(11)
    frames = merge(vehicle(70.0, 2000, 30.0, 150, rng), tone(67.0, 0, 4000, 20.0, rng))
    (result,) = track(frames)
    assert result.invalid == UNRESOLVED


def test_a_pass_cut_off_by_the_start_or_the_end_of_the_stream_is_incomplete() -> None:
    rng = np.random.default_rng(12)
    whole = vehicle(100.0, 1000, 30.0, 150, rng)
    peak = len(whole) // 2
    config = TrackerConfig(edge_rise_db=6.0)
    (started,) = track(whole[peak - 2 :], config)
    (ended,) = track(whole[: peak + 2], config)
    assert started.invalid == ended.invalid == INCOMPLETE
    (complete,) = track(whole, config)
    assert complete.valid
    (unchecked,) = track(whole[peak - 2 :])  # a front end whose levels do not follow the beam
    assert unchecked.valid


def two_car_frames() -> Frames:
    """Two pairs of cars, one receding, rain and an interferer line: five passes."""
    rng = np.random.default_rng(7)
    return merge(
        vehicle(130.0, 1000, 30.0, 150, rng),
        vehicle(95.0, 1250, 30.0, 150, rng),
        vehicle(-60.0, 2000, 20.0, 300, rng),
        vehicle(100.0, 3000, 30.0, 150, rng),
        vehicle(97.5, 3200, 30.0, 150, rng),
        raindrops(40, 1500, 2500, rng),
        tone(-160.0, 0, 3500, 25.0, rng),
    )


ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "tests" / "micropython" / "run.mjs"
PACKAGE = ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript" / "micropython.mjs"


PORTABLE_TRACKER = ("tracker.py", "rejection.py")  # the tracker and the rules it imports


@pytest.mark.micropython
def test_micropython_tracker_matches_cpython(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        missing_dependency("node (nodejs 20)")
    if not PACKAGE.exists() or not RUNNER.exists():
        missing_dependency("npm package @micropython/micropython-webassembly-pyscript (run `npm ci`)")
    frames = two_car_frames()
    (tmp_path / "input.json").write_text(json.dumps(frames))
    empty = tmp_path / "empty.py"
    empty.write_text("")
    files = [
        [str(empty), "/lib/speedledger/__init__.py"],
        [str(empty), "/lib/speedledger/edge/__init__.py"],
        [str(empty), "/lib/speedledger/edge/core/__init__.py"],
        *([str(ROOT / "edge" / "core" / name), f"/lib/speedledger/edge/core/{name}"] for name in PORTABLE_TRACKER),
        [str(tmp_path / "input.json"), "/input.json"],
    ]
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"files": files, "main": str(Path(__file__).parent / "tracker_check.py")}))
    done = subprocess.run([node, str(RUNNER), str(manifest)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    on_device = json.loads(line[len("RESULT ") :])
    here = [[p.t_ms, p.speed_kmh, p.direction, p.snr_db, p.frames, p.invalid] for p in track(frames)]
    assert len(on_device) == len(here) == 5
    for device_pass, cpython_pass in zip(on_device, here, strict=True):
        assert device_pass[0] == cpython_pass[0] and device_pass[2:3] == cpython_pass[2:3]
        assert math.isclose(device_pass[1], cpython_pass[1], abs_tol=1e-3)
        assert device_pass[4:] == cpython_pass[4:]
