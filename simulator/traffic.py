"""Ground truth of a scenario: the registry (owners, vehicles, transfers) and every pass at every radar.

Everything is drawn from the scenario's seed, so a scenario always yields the same truth. Times are
seconds since the start of the run (stream time); `Truth.owner_at` answers who owned a plate then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from speedledger.edge.core.violation import SpeedPolicy, speed_ckmh
from speedledger.simulator.iq import Vehicle, pass_duration_s
from speedledger.simulator.plates import random_siv_plate
from speedledger.simulator.scenario import Radar, Scenario

#: Passes whose true speed lies this close to the infraction threshold may fall either side of it
#: within the DSP's accuracy bound: they are reported, but not held against exactly-once.
BORDERLINE_KMH = 0.2
#: Beam half-footprints each side of the centre during which a vehicle is still in the beam.
BEAM_MARGIN = 2.5


@dataclass(frozen=True)
class Owner:
    name: str
    birth_date: str
    email: str


@dataclass(frozen=True)
class RegisteredVehicle:
    plate: str
    brand: str
    model: str
    owner: int  # index into Truth.owners


@dataclass(frozen=True)
class Transfer:
    plate: str
    to_owner: int
    at_s: float


@dataclass(frozen=True)
class Pass:
    """One vehicle crossing one radar's beam, as it really happened."""

    radar_id: str
    index: int
    t_s: float  # crossing of the beam centre, stream time
    lane: int
    speed_kmh: float
    approaching: bool
    plate: str
    readable: bool  # the camera frame resolves the plate
    snr_db: float

    @property
    def key(self) -> str:
        return f"{self.radar_id}#{self.index}"

    def vehicle(self) -> Vehicle:
        return Vehicle(self.speed_kmh, self.t_s, approaching=self.approaching, snr_db=self.snr_db)

    def beam_interval(self) -> tuple[float, float]:
        half = pass_duration_s(self.vehicle(), BEAM_MARGIN) / 2
        return self.t_s - half, self.t_s + half


@dataclass(frozen=True)
class Truth:
    owners: tuple[Owner, ...]
    vehicles: tuple[RegisteredVehicle, ...]
    transfers: tuple[Transfer, ...]
    passes: tuple[Pass, ...]

    def owner_at(self, plate: str, t_s: float) -> int | None:
        """Index of the plate's owner at stream time `t_s`; None for a plate the registry does not know."""
        registered = next((vehicle for vehicle in self.vehicles if vehicle.plate == plate), None)
        if registered is None:
            return None
        owner = registered.owner
        for transfer in sorted(self.transfers, key=lambda transfer: transfer.at_s):
            if transfer.plate == plate and transfer.at_s <= t_s:
                owner = transfer.to_owner
        return owner


def is_violation(radar: Radar, speed_kmh: float) -> bool:
    """Would this true speed give an infraction (the retained-speed rule of CONTRACT section 3)?"""
    return SpeedPolicy(radar.speed_limit_kmh).is_violation(speed_ckmh(speed_kmh))


def is_borderline(radar: Radar, speed_kmh: float) -> bool:
    return is_violation(radar, speed_kmh - BORDERLINE_KMH) != is_violation(radar, speed_kmh + BORDERLINE_KMH)


def shares_beam(passes: tuple[Pass, ...]) -> set[str]:
    """Keys of the passes that had another vehicle in the same radar's beam at the same time."""
    shared: set[str] = set()
    ordered = sorted(passes, key=lambda item: (item.radar_id, item.beam_interval()[0]))
    latest: Pass | None = None  # of the passes so far at this radar, the one leaving the beam last
    for current in ordered:
        if latest is not None and latest.radar_id == current.radar_id:
            if current.beam_interval()[0] < latest.beam_interval()[1]:
                shared.update((latest.key, current.key))
            if current.beam_interval()[1] <= latest.beam_interval()[1]:
                continue
        latest = current
    return shared


_BRANDS = (("Peugeot", "308"), ("Renault", "Clio"), ("Citroen", "C3"), ("Dacia", "Sandero"), ("Toyota", "Yaris"))


def generate(scenario: Scenario) -> Truth:
    rng = np.random.default_rng(scenario.seed)
    registry = scenario.registry
    owners = tuple(
        Owner(
            f"Owner {index:04d}", f"19{60 + index % 40:02d}-0{1 + index % 9}-1{index % 10}", f"owner{index}@example.org"
        )
        for index in range(registry.owners)
    )
    plates: list[str] = []
    while len(plates) < registry.vehicles:
        plate = random_siv_plate(rng)
        if plate not in plates:
            plates.append(plate)
    vehicles = tuple(
        RegisteredVehicle(plate, *_BRANDS[index % len(_BRANDS)], owner=index % registry.owners)
        for index, plate in enumerate(plates)
    )
    transfers = tuple(
        Transfer(
            vehicle.plate, (vehicle.owner + 1) % registry.owners, float(rng.uniform(0.2, 0.8)) * scenario.duration_s
        )
        for vehicle in vehicles[: registry.transfers]
    )
    passes: list[Pass] = []
    for radar in scenario.radars:
        passes.extend(_radar_passes(scenario, radar, plates, rng))
    return Truth(owners, vehicles, transfers, tuple(passes))


def _radar_passes(scenario: Scenario, radar: Radar, plates: list[str], rng: np.random.Generator) -> list[Pass]:
    traffic = radar.traffic
    mean = traffic.compliant_mean_kmh if traffic.compliant_mean_kmh is not None else radar.speed_limit_kmh - 10.0
    # The first and last few seconds stay empty: a vehicle must be wholly inside the recording.
    t, end = 3.0, scenario.duration_s - 3.0
    passes: list[Pass] = []
    previous: Pass | None = None
    while True:
        follows = previous is not None and rng.random() < traffic.platoon_share
        overtakes = previous is not None and radar.lanes > 1 and rng.random() < traffic.overtaking_share
        if previous is not None and overtakes:
            t = previous.t_s + float(rng.uniform(0.0, 0.6))
            speed = previous.speed_kmh + float(rng.uniform(10.0, 30.0))
        elif previous is not None and follows:
            t = previous.t_s + float(rng.uniform(1.0, 2.0))
            speed = previous.speed_kmh + float(rng.normal(0.0, 1.0))
        else:
            t += float(rng.exponential(3600.0 / traffic.vehicles_per_hour))
            if rng.random() < traffic.speeder_share:
                speed = radar.speed_limit_kmh + float(rng.uniform(*traffic.speeder_excess_kmh))
            else:
                speed = min(float(rng.normal(mean, traffic.compliant_sd_kmh)), float(radar.speed_limit_kmh))
        if t >= end:
            return passes
        unregistered = rng.random() < traffic.unregistered_share
        current = Pass(
            radar_id=radar.id,
            index=len(passes),
            t_s=round(t, 3),
            lane=2 if overtakes else 1,
            speed_kmh=round(max(20.0, min(speed, 250.0 * math.cos(math.radians(radar.angle_deg)))), 3),
            approaching=not radar.receding,
            plate=random_siv_plate(rng) if unregistered else plates[int(rng.integers(0, len(plates)))],
            readable=bool(rng.random() >= traffic.unreadable_share),
            snr_db=float(rng.uniform(*traffic.snr_db)),
        )
        passes.append(current)
        previous = current
