"""Pass logs as CSV (`time_s,radar,lane,speed_kmh,plate`): a scenario's truth written out, or real passes read in.

`speedledger sim record` writes one beside the recordings; `speedledger sim replay` drives the fleet
from one, with the radars (and faults) of a scenario: every plate in the log is registered, spread
over the scenario's owners, and the speeds and times are the log's. On a scenario's section, a trip
is a plate passing the entry and then the exit within the plausible travel time, once at each.
"""

from __future__ import annotations

import csv
from pathlib import Path

from speedledger.central.sections.domain import max_travel_ms
from speedledger.shared.plates import normalise
from speedledger.simulator.scenario import Scenario, ScenarioError
from speedledger.simulator.traffic import Pass, RegisteredVehicle, Trip, Truth, generate

FIELDS = ("time_s", "radar", "lane", "speed_kmh", "plate")
REPLAY_SNR_DB = 14.0  # a log holds no signal level: the middle of the shipped scenarios' range


def write(path: Path, passes: tuple[Pass, ...]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS)
        for p in sorted(passes, key=lambda p: (p.t_s, p.radar_id)):
            writer.writerow((f"{p.t_s:.3f}", p.radar_id, p.lane, f"{p.speed_kmh:.3f}", p.plate))


def read(path: Path, scenario: Scenario) -> Truth:
    """The truth of a replay: the log's passes at the scenario's radars, every plate registered."""
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise ScenarioError(f"{path}: cannot read: {error.strerror}") from None
    radar_ids = {radar.id for radar in scenario.radars}
    passes: list[Pass] = []
    for line, row in enumerate(rows, start=2):
        try:
            radar_id, t_s, speed = row["radar"], float(row["time_s"]), float(row["speed_kmh"])
            lane, plate = int(row["lane"]), normalise(row["plate"])
        except (KeyError, TypeError, ValueError):
            raise ScenarioError(f"{path}:{line}: needs {', '.join(FIELDS)} (numbers where numbers)") from None
        if radar_id not in radar_ids:
            raise ScenarioError(f"{path}:{line}: radar {radar_id!r} is not in scenario {scenario.name}")
        if not 0 <= t_s < scenario.duration_s or not 5 <= speed <= 300:
            raise ScenarioError(f"{path}:{line}: time within 0..{scenario.duration_s} s and speed 5..300 km/h")
        index = sum(1 for p in passes if p.radar_id == radar_id)
        receding = scenario.radar(radar_id).receding
        passes.append(Pass(radar_id, index, t_s, lane, speed, not receding, plate, True, REPLAY_SNR_DB))
    generated = generate(scenario)  # its owners (names, birth dates) serve the log's plates
    plates = sorted({p.plate for p in passes if p.plate})
    vehicles = tuple(
        RegisteredVehicle(plate, "Unknown", "Unknown", index % len(generated.owners))
        for index, plate in enumerate(plates)
    )
    return Truth(generated.owners, vehicles, (), tuple(passes), trips(scenario, passes))


def trips(scenario: Scenario, passes: list[Pass]) -> tuple[Trip, ...]:
    """Each section's trips in a log: an entry and a later exit of one plate within the plausible travel
    time, when neither could pair otherwise (a plate seen twice there is no trip anyone can tell)."""
    found = []
    for section in scenario.sections:
        window_s = max_travel_ms(section.distance_m) / 1000
        entries = [p for p in passes if p.radar_id == section.entry and p.plate]
        exits = [p for p in passes if p.radar_id == section.exit and p.plate]
        for entry in entries:
            later = [p for p in exits if p.plate == entry.plate and 0 < p.t_s - entry.t_s <= window_s]
            if len(later) != 1:
                continue
            earlier = [p for p in entries if p.plate == entry.plate and 0 < later[0].t_s - p.t_s <= window_s]
            if earlier == [entry]:
                found.append(Trip(section.id, entry.key, later[0].key))
    return tuple(found)
