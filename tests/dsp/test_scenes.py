"""Scenes with the hard cases: noise, clutter, wheels, direction, angle, several vehicles, streaming."""

import numpy as np
import pytest

from speedledger.edge.core.rejection import SHARED_BEAM, UNRESOLVED
from speedledger.edge.core.tracker import UNSTEADY
from speedledger.edge.dsp import DopplerProcessor
from speedledger.simulator.iq import Clutter, FrontEnd, Scene, Vehicle, synthesise
from speedledger.simulator.scenes import SAMPLE_RATES, realistic_front_end, single_pass
from tests.dsp.helpers import (
    ACCURACY_KMH,
    assert_every_valid_pass_is_a_vehicle,
    in_beam,
    measure,
    speed_error,
    time_tolerance_ms,
    valid,
)


@pytest.mark.parametrize("sample_rate", SAMPLE_RATES)
def test_noise_clutter_and_vibration_alone_report_nothing(sample_rate: int) -> None:
    rng = np.random.default_rng(sample_rate)
    loud_vibration = Clutter(static_db=40.0, sway_db=20.0, vibration_db=30.0, vibration_hz=150.0)
    scene = Scene(sample_rate, 20.0, (), angle_deg=10.0, clutter=loud_vibration, front_end=realistic_front_end(rng))
    assert measure(scene, rng) == []


def test_below_the_minimum_speed_nothing_is_reported() -> None:
    rng = np.random.default_rng(8)
    scene = single_pass(rng, speed_kmh=8.0, angle_deg=0.0, snr_db=20.0, sample_rate=24_000)
    assert measure(scene, rng) == []


@pytest.mark.parametrize(("speed_kmh", "snr_db"), [(35.0, 30.0), (130.0, 30.0), (130.0, 0.0)])
def test_wheels_and_clutter_do_not_move_the_body_speed(speed_kmh: float, snr_db: float) -> None:
    speeds = []
    for wheel_db, clutter in ((None, None), (-6.0, Clutter(static_db=45.0, sway_db=25.0, vibration_db=30.0))):
        rng = np.random.default_rng(31)
        scene = single_pass(rng, speed_kmh, 12.0, snr_db, 32_000, wheel_db=wheel_db, clutter=clutter)
        passes = measure(scene, rng)
        assert len(passes) == 1 and passes[0].valid, passes
        speeds.append(passes[0].speed_kmh)
    clean, disturbed = speeds
    assert abs(disturbed - speed_kmh) <= ACCURACY_KMH
    assert abs(disturbed - clean) <= 0.05


def test_receding_vehicle_is_receding() -> None:
    rng = np.random.default_rng(4)
    scene = single_pass(rng, 72.5, 20.0, 5.0, 44_100, approaching=False)
    (measured,) = measure(scene, rng)
    assert measured.valid and measured.direction == "receding"
    assert speed_error(measured, scene.vehicles[0]) <= ACCURACY_KMH


def test_strong_vehicle_leaves_no_mirror_image_despite_iq_imbalance() -> None:
    rng = np.random.default_rng(5)
    front_end = FrontEnd(dc_offset=20 + 10j, gain_imbalance=0.08, phase_imbalance_deg=6.0, bits=16)
    scene = single_pass(rng, 110.0, 5.0, 35.0, 32_000, front_end=front_end)
    passes = measure(scene, rng)
    assert [(p.direction, p.valid) for p in passes] == [("approaching", True)]


def test_cosine_correction_uses_the_mounting_angle() -> None:
    rng = np.random.default_rng(6)
    scene = single_pass(rng, 150.0, 30.0, 10.0, 48_000)
    iq = synthesise(scene, rng)
    (corrected,) = DopplerProcessor(48_000, angle_deg=30.0).run(iq)
    (uncorrected,) = DopplerProcessor(48_000, angle_deg=0.0).run(iq)
    assert abs(corrected.speed_kmh - 150.0) <= ACCURACY_KMH
    assert abs(uncorrected.speed_kmh - 150.0 * np.cos(np.radians(30.0))) <= ACCURACY_KMH


def two_cars(first: Vehicle, second: Vehicle, seed: int = 1) -> tuple[Scene, list]:
    rng = np.random.default_rng(seed)
    scene = Scene(32_000, 2.5, (first, second), angle_deg=15.0, clutter=Clutter(), front_end=realistic_front_end(rng))
    return scene, measure(scene, rng)


def test_overtaking_cars_resolved_cleanly_are_both_reported() -> None:
    scene, passes = two_cars(Vehicle(130.0, 1.0, snr_db=6.0), Vehicle(95.0, 1.35, snr_db=6.0))
    assert len(passes) == 2 and all(p.valid for p in passes), passes
    for measured, vehicle in zip(passes, scene.vehicles, strict=True):
        assert speed_error(measured, vehicle) <= ACCURACY_KMH
        assert abs(measured.t_ms - 1000 * vehicle.centre_s) <= time_tolerance_ms(vehicle)


def test_side_by_side_cars_at_different_speeds_are_invalidated() -> None:
    _, passes = two_cars(Vehicle(130.0, 1.0, snr_db=6.0), Vehicle(110.0, 1.0, snr_db=6.0))
    assert passes and not valid(passes)
    assert {p.invalid for p in passes} == {SHARED_BEAM}


def test_a_much_stronger_vehicle_keeps_its_measurement_beside_a_weak_one() -> None:
    scene, passes = two_cars(Vehicle(130.0, 1.0, snr_db=25.0), Vehicle(110.0, 1.0, snr_db=6.0))
    (measured,) = valid(passes)
    assert speed_error(measured, scene.vehicles[0]) <= ACCURACY_KMH


@pytest.mark.parametrize("second_kmh", [98.5, 97.0, 95.0])
@pytest.mark.parametrize("seed", [1, 2])
def test_cars_too_close_in_speed_to_resolve_are_invalidated(second_kmh: float, seed: int) -> None:
    _, passes = two_cars(Vehicle(100.0, 1.0, snr_db=6.0), Vehicle(second_kmh, 1.15, snr_db=6.0), seed)
    assert passes and not valid(passes), passes
    assert {p.invalid for p in passes} <= {UNRESOLVED, UNSTEADY}


def test_same_speed_cars_in_a_row_are_two_passes() -> None:
    scene, passes = two_cars(Vehicle(100.0, 0.8, snr_db=6.0), Vehicle(100.0, 1.5, snr_db=6.0))
    assert len(valid(passes)) == 2
    for measured, vehicle in zip(passes, scene.vehicles, strict=True):
        assert abs(measured.t_ms - 1000 * vehicle.centre_s) <= time_tolerance_ms(vehicle)


@pytest.mark.parametrize("seed", [77, 78])
def test_random_traffic_never_gives_a_speed_to_the_wrong_vehicle(seed: int) -> None:
    """Two vehicles anywhere in the beam, at any speeds (often within a few km/h, either direction):
    every valid pass is the speed, within 0.2 km/h, of a vehicle that was in the beam at its time."""
    rng = np.random.default_rng(seed)
    for _ in range(8):
        first = float(rng.uniform(30, 200))
        second = first + float(rng.choice([rng.uniform(-12, 12), rng.uniform(-2, 2)]))
        vehicles = tuple(
            Vehicle(
                speed,
                float(rng.uniform(0.8, 1.6)),
                approaching=bool(rng.random() < 0.8),
                snr_db=float(rng.uniform(-3, 30)),
                wheel_db=float(rng.uniform(-20, -6)),
            )
            for speed in (first, max(12.0, second))
        )
        scene = Scene(
            32_000, 2.6, vehicles, angle_deg=float(rng.uniform(0, 30)), clutter=Clutter(),
            front_end=realistic_front_end(rng),
        )  # fmt: skip
        assert_every_valid_pass_is_a_vehicle(measure(scene, rng), vehicles)


def test_streaming_in_odd_chunks_matches_one_batch() -> None:
    rng = np.random.default_rng(9)
    scene = Scene(
        24_000, 3.0, (Vehicle(60.0, 1.0, snr_db=3.0), Vehicle(140.0, 2.2, approaching=False, snr_db=3.0)),
        angle_deg=10.0, front_end=FrontEnd(bits=16),
    )  # fmt: skip
    iq = synthesise(scene, rng)
    batch = DopplerProcessor(24_000, angle_deg=10.0).run(iq)
    streamed_processor = DopplerProcessor(24_000, angle_deg=10.0)
    streamed = []
    start = 0
    for size in rng.integers(1, 5000, size=10_000):
        streamed.extend(streamed_processor.feed(iq[start : start + size]))
        start += size
        if start >= iq.size:
            break
    streamed.extend(streamed_processor.flush())
    assert [(p.t_ms, p.direction, p.frames) for p in streamed] == [(p.t_ms, p.direction, p.frames) for p in batch]
    for one, other in zip(streamed, batch, strict=True):
        assert abs(one.speed_kmh - other.speed_kmh) <= 0.01


def test_a_sample_rate_too_low_for_the_speed_band_is_refused() -> None:
    with pytest.raises(ValueError, match="sample rate"):
        DopplerProcessor(400.0)


def test_same_speed_cars_too_close_to_separate_never_get_a_time_between_them() -> None:
    scene, passes = two_cars(Vehicle(58.7, 1.35, snr_db=15.0), Vehicle(58.4, 0.8, snr_db=16.0, wheel_db=-8.0))
    for measured in valid(passes):
        assert any(in_beam(v, measured.t_ms) for v in scene.vehicles), passes
