"""Shared helpers of the DSP tests: synthesise a scene and measure it."""

import numpy as np

from speedledger.edge.core.tracker import VehiclePass
from speedledger.edge.dsp import DopplerProcessor
from speedledger.simulator.iq import Scene, Vehicle, synthesise

ACCURACY_KMH = 0.2  # the accuracy target of every synthetic pass


def measure(scene: Scene, rng: np.random.Generator, angle_deg: float | None = None) -> list[VehiclePass]:
    """All passes (valid or not) the processor finds in the scene, measured at its mounting angle."""
    iq = synthesise(scene, rng)
    angle = scene.angle_deg if angle_deg is None else angle_deg
    return DopplerProcessor(scene.sample_rate, carrier_hz=scene.carrier_hz, angle_deg=angle).run(iq)


def valid(passes: list[VehiclePass]) -> list[VehiclePass]:
    return [p for p in passes if p.valid]


def speed_error(vehicle_pass: VehiclePass, vehicle: Vehicle) -> float:
    return abs(vehicle_pass.speed_kmh - vehicle.speed_kmh)


def time_tolerance_ms(vehicle: Vehicle) -> float:
    """How far the pass time may sit from the beam-centre crossing: a quarter of the half-power dwell."""
    return 250.0 * vehicle.footprint_m / (vehicle.speed_kmh / 3.6)


def in_beam(vehicle: Vehicle, t_ms: float) -> bool:
    """Whether the vehicle was inside the beam's half-power footprint at `t_ms`."""
    half_dwell_ms = 500.0 * vehicle.footprint_m / (vehicle.speed_kmh / 3.6)
    return abs(t_ms - 1000 * vehicle.centre_s) <= half_dwell_ms


def assert_every_valid_pass_is_a_vehicle(passes: list[VehiclePass], vehicles: tuple[Vehicle, ...]) -> None:
    """Each valid pass is the speed (within 0.2 km/h), in the direction, of a vehicle that was in the
    beam at its time: never a wrong speed."""
    for measured in valid(passes):
        matches = [
            v
            for v in vehicles
            if v.direction == measured.direction
            and speed_error(measured, v) <= ACCURACY_KMH
            and in_beam(v, measured.t_ms)
        ]
        assert matches, (vehicles, measured)
