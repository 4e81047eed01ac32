"""Ground truth of a scenario: the registry (owners, vehicles, transfers) and every pass at every radar.

Everything is drawn from the scenario's seed, so a scenario always yields the same truth. Times are
seconds since the start of the run (stream time); `Truth.owner_at` answers who owned a plate then.

On a road with section control the entry radar's vehicles drive on to the exit (`Trip`) at an
average speed of their own, whatever their spot speed at either radar, so a vehicle may brake for
both radars and still drive the section too fast. Each vehicle passes each radar of a section once
(a plate seen twice there would be an ambiguous pair, which gives nothing by design).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from speedledger.edge.core.violation import SpeedPolicy, speed_ckmh
from speedledger.simulator.iq import Vehicle, pass_duration_s
from speedledger.simulator.plates import random_siv_plate
from speedledger.simulator.scenario import Radar, Scenario, Section

#: Passes whose true speed lies this close to the infraction threshold may fall either side of it
#: within the DSP's accuracy bound: they are reported, but not held against exactly-once.
BORDERLINE_KMH = 0.2
#: Beam half-footprints each side of the centre during which a vehicle is still in the beam.
BEAM_MARGIN = 2.5
#: On a one-lane section a vehicle that catches up with the one ahead follows it this far behind.
EXIT_HEADWAY_S = 2.0


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
class Trip:
    """One vehicle driving a section from its entry radar to its exit radar within the run."""

    section_id: str
    entry: str  # Pass.key at the entry radar
    exit: str  # Pass.key at the exit radar


@dataclass(frozen=True)
class Truth:
    owners: tuple[Owner, ...]
    vehicles: tuple[RegisteredVehicle, ...]
    transfers: tuple[Transfer, ...]
    passes: tuple[Pass, ...]
    trips: tuple[Trip, ...] = ()

    def pass_by_key(self, key: str) -> Pass:
        return next(p for p in self.passes if p.key == key)

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
    trips: list[Trip] = []
    section_rng = np.random.default_rng([scenario.seed, 15])  # existing scenarios keep their truth
    for section in scenario.sections:
        passes, section_trips = _section_road(scenario, section, passes, section_rng)
        trips.extend(section_trips)
    return Truth(owners, vehicles, transfers, tuple(passes), tuple(trips))


def _speed(
    limit_kmh: int,
    speeder_share: float,
    excess_kmh: tuple[float, float],
    mean_kmh: float | None,
    sd_kmh: float,
    rng: np.random.Generator,
) -> float:
    """A speeder's (limit + uniform excess) with `speeder_share`, else a compliant one (never above the limit)."""
    if rng.random() < speeder_share:
        return limit_kmh + float(rng.uniform(*excess_kmh))
    mean = mean_kmh if mean_kmh is not None else limit_kmh - 10.0
    return min(float(rng.normal(mean, sd_kmh)), float(limit_kmh))


def _spot_speed(radar: Radar, rng: np.random.Generator) -> float:
    t = radar.traffic
    return _speed(
        radar.speed_limit_kmh, t.speeder_share, t.speeder_excess_kmh, t.compliant_mean_kmh, t.compliant_sd_kmh, rng
    )


def _radar_passes(scenario: Scenario, radar: Radar, plates: list[str], rng: np.random.Generator) -> list[Pass]:
    traffic = radar.traffic
    # The first and last few seconds stay empty: a vehicle must be wholly inside the recording.
    t, end = 3.0, scenario.duration_s - 3.0
    passes: list[Pass] = []
    previous: Pass | None = None
    if traffic.vehicles_per_hour <= 0:
        return passes  # e.g. the exit of a section that only its through traffic reaches
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
            speed = _spot_speed(radar, rng)
        if t >= end:
            return passes
        unregistered = rng.random() < traffic.unregistered_share
        current = Pass(
            radar_id=radar.id,
            index=len(passes),
            t_s=round(t, 3),
            lane=2 if overtakes else 1,
            speed_kmh=_measurable(radar, speed),
            approaching=not radar.receding,
            plate=random_siv_plate(rng) if unregistered else plates[int(rng.integers(0, len(plates)))],
            readable=bool(rng.random() >= traffic.unreadable_share),
            snr_db=float(rng.uniform(*traffic.snr_db)),
        )
        passes.append(current)
        previous = current


def _measurable(radar: Radar, speed_kmh: float) -> float:
    """The speed held within what the radar can measure at its angle (20 to 250 km/h along the beam)."""
    return round(max(20.0, min(speed_kmh, 250.0 * math.cos(math.radians(radar.angle_deg)))), 3)


def _section_road(
    scenario: Scenario, section: Section, passes: list[Pass], rng: np.random.Generator
) -> tuple[list[Pass], list[Trip]]:
    """The section's passes with each plate once per radar, plus the through vehicles' exit passes and trips."""
    entry, exit_radar = scenario.radar(section.entry), scenario.radar(section.exit)
    seen: set[str] = set()
    road: list[Pass] = []
    for vehicle_pass in sorted(passes, key=lambda p: (p.t_s, p.key)):
        if vehicle_pass.radar_id in (entry.id, exit_radar.id):
            plate = vehicle_pass.plate
            while plate in seen:  # another vehicle: a plate the registry does not know
                plate = random_siv_plate(rng)
            seen.add(plate)
            vehicle_pass = replace(vehicle_pass, plate=plate)
        road.append(vehicle_pass)
    traffic, last_exit_s = section.traffic, 0.0
    trips: list[Trip] = []
    next_index = sum(1 for p in road if p.radar_id == exit_radar.id)
    for entered in [p for p in road if p.radar_id == entry.id]:
        if rng.random() >= traffic.through_share:
            continue  # it leaves the road between the radars
        average = _speed(section.speed_limit_kmh, traffic.speeder_share, traffic.average_excess_kmh,
                         traffic.compliant_mean_kmh, traffic.compliant_sd_kmh, rng)  # fmt: skip
        at_exit = entered.t_s + section.distance_m / (max(average, 10.0) / 3.6)
        if exit_radar.lanes == 1 and trips:  # no overtaking on one lane: it catches up and follows
            at_exit = max(at_exit, last_exit_s + EXIT_HEADWAY_S)
        at_exit = round(at_exit, 3)
        spot, readable = _spot_speed(exit_radar, rng), bool(rng.random() >= exit_radar.traffic.unreadable_share)
        snr_db = float(rng.uniform(*exit_radar.traffic.snr_db))
        if at_exit >= scenario.duration_s - 3.0:
            continue  # still driving when the run ends
        exited = Pass(exit_radar.id, next_index, at_exit, 1, _measurable(exit_radar, spot),
                      not exit_radar.receding, entered.plate, readable, snr_db)  # fmt: skip
        next_index += 1
        road.append(exited)
        trips.append(Trip(section.id, entered.key, exited.key))
        last_exit_s = at_exit
    return road, trips
