"""Scenarios: small seeded TOML files describing roads, radars, traffic, the registry and faults.

A scenario is data, read with the standard library's `tomllib` and checked here once; everything
else in the simulator takes a `Scenario`. A road with section control pairs two of its radars in a
`Section` (entry, exit, distance, limit, how its vehicles drive it). Shipped scenarios live in
`simulator/scenarios/` and are listed by `speedledger sim scenarios`. The format is documented in docs/simulator.md.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from speedledger.central.sections.domain import MAX_DISTANCE_M, MIN_DISTANCE_M
from speedledger.shared.passage import MAX_CLOCK_UNCERTAINTY_MS
from speedledger.shared.violation import is_radar_id

FAULT_KINDS = ("kill-central", "restart-broker", "radar-offline", "radar-reboot", "clock-skew")
#: Faults that need the simulator to own the process (central or broker) they act on.
PROCESS_FAULTS = ("kill-central", "restart-broker")
#: Faults acting on one radar: they name it.
RADAR_FAULTS = ("radar-offline", "radar-reboot", "clock-skew")


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Traffic:
    """Traffic seen by one radar: a Poisson stream, a compliant majority and a tail of speeders."""

    vehicles_per_hour: float = 600.0
    compliant_mean_kmh: float | None = None  # default: 10 km/h under the limit
    compliant_sd_kmh: float = 6.0
    speeder_share: float = 0.2
    speeder_excess_kmh: tuple[float, float] = (8.0, 60.0)  # true speed above the limit, uniform
    platoon_share: float = 0.1  # vehicles that follow the previous one closely (1-2 s)
    overtaking_share: float = 0.05  # vehicles passing the previous one in the second lane
    unregistered_share: float = 0.1  # plates unknown to the registry: `unidentified`
    unreadable_share: float = 0.05  # frames whose plate the camera cannot resolve
    snr_db: tuple[float, float] = (8.0, 20.0)


@dataclass(frozen=True)
class Radar:
    id: str
    name: str
    latitude: float
    longitude: float
    speed_limit_kmh: int
    angle_deg: float = 20.0  # between the beam and the direction of travel
    lanes: int = 1
    sample_rate: int = 24_000
    receding: bool = False  # traffic moves away from the radar
    clock_uncertainty_ms: int = 20  # the bound its time sync reports in passages (section control)
    traffic: Traffic = field(default_factory=Traffic)


@dataclass(frozen=True)
class SectionTraffic:
    """How the vehicles that pass the entry radar drive on to the exit (their spot speed at the exit
    radar follows that radar's `Traffic`; between the two they keep the average speed drawn here)."""

    through_share: float = 1.0  # of the entry's vehicles, those that drive on to the exit
    speeder_share: float = 0.3  # of those, the ones whose average speed is over the section's limit
    average_excess_kmh: tuple[float, float] = (8.0, 40.0)  # their average above the limit, uniform
    compliant_mean_kmh: float | None = None  # default: 10 km/h under the limit
    compliant_sd_kmh: float = 6.0


@dataclass(frozen=True)
class Section:
    """Section control between two radars of the scenario, created through the REST API."""

    id: str
    entry: str  # radar id
    exit: str  # radar id
    distance_m: int
    speed_limit_kmh: int
    traffic: SectionTraffic = field(default_factory=SectionTraffic)


@dataclass(frozen=True)
class Registry:
    """Owners and vehicles registered before the run; `transfers` vehicles change owner during it."""

    owners: int = 10
    vehicles: int = 30
    transfers: int = 2


@dataclass(frozen=True)
class Fault:
    kind: str
    at_s: float
    radar: str | None = None
    duration_s: float = 0.0  # radar-offline: how long the radar is cut off; radar-reboot: boot time
    skew_ms: int = 0  # clock-skew: the radar's clock runs this far ahead (negative: behind)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    seed: int
    duration_s: float
    radars: tuple[Radar, ...]
    registry: Registry = field(default_factory=Registry)
    faults: tuple[Fault, ...] = ()
    sections: tuple[Section, ...] = ()

    def radar(self, radar_id: str) -> Radar:
        return next(radar for radar in self.radars if radar.id == radar_id)

    def section(self, section_id: str) -> Section:
        return next(section for section in self.sections if section.id == section_id)

    def section_of(self, radar_id: str) -> Section | None:
        """The section this radar is the entry or the exit of (a radar is in at most one)."""
        return next((s for s in self.sections if radar_id in (s.entry, s.exit)), None)

    def clock_skew_ms(self, radar_id: str) -> int:
        """How far that radar's clock runs ahead (negative: behind) for the whole run."""
        return sum(f.skew_ms for f in self.faults if f.kind == "clock-skew" and f.radar == radar_id)


def _build(cls: type, table: dict[str, Any], where: str) -> Any:
    """`cls(**table)` with unknown keys and wrong types reported as one line naming them."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ScenarioError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    values = {}
    for key, value in table.items():
        expected = known[key].type
        if isinstance(value, list):
            value = tuple(value)
        if "float" in str(expected) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif "tuple[float" in str(expected) and isinstance(value, tuple):
            value = tuple(float(item) for item in value)
        values[key] = value
    try:
        return cls(**values)
    except TypeError as error:
        raise ScenarioError(f"{where}: {error}") from None


def parse(text: str, source: str) -> Scenario:
    """The scenario in `text` (TOML); `source` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{source}: not valid TOML: {error}") from None
    data.setdefault("description", "")
    radars = []
    for index, table in enumerate(data.pop("radars", [])):
        traffic = _build(Traffic, table.pop("traffic", {}), f"{source}: radars[{index}].traffic")
        radars.append(_build(Radar, {**table, "traffic": traffic}, f"{source}: radars[{index}]"))
    registry = _build(Registry, data.pop("registry", {}), f"{source}: registry")
    faults = [_build(Fault, table, f"{source}: faults[{index}]") for index, table in enumerate(data.pop("faults", []))]
    sections = []
    for index, table in enumerate(data.pop("sections", [])):
        where = f"{source}: sections[{index}]"
        traffic = _build(SectionTraffic, table.pop("traffic", {}), f"{where}.traffic")
        sections.append(_build(Section, {**table, "traffic": traffic}, where))
    scenario: Scenario = _build(
        Scenario,
        {**data, "radars": tuple(radars), "registry": registry, "faults": tuple(faults), "sections": tuple(sections)},
        source,
    )
    _check(scenario, source)
    return scenario


def _check(scenario: Scenario, source: str) -> None:
    if not scenario.radars:
        raise ScenarioError(f"{source}: at least one [[radars]] table is needed")
    if scenario.duration_s <= 0:
        raise ScenarioError(f"{source}: duration_s must be positive")
    ids = [radar.id for radar in scenario.radars]
    for radar in scenario.radars:
        if not is_radar_id(radar.id) or ids.count(radar.id) > 1:
            raise ScenarioError(f"{source}: radar id {radar.id!r} must be unique and match [A-Za-z0-9-]{{1,32}}")
        if radar.lanes not in (1, 2):
            raise ScenarioError(f"{source}: radar {radar.id}: lanes must be 1 or 2")
        if not 0 <= radar.clock_uncertainty_ms <= MAX_CLOCK_UNCERTAINTY_MS:
            raise ScenarioError(
                f"{source}: radar {radar.id}: clock_uncertainty_ms must be 0..{MAX_CLOCK_UNCERTAINTY_MS}"
            )
    _check_sections(scenario, source, ids)
    if scenario.registry.transfers > scenario.registry.vehicles or scenario.registry.owners < 2:
        raise ScenarioError(f"{source}: registry needs at least 2 owners and no more transfers than vehicles")
    for fault in scenario.faults:
        if fault.kind not in FAULT_KINDS:
            raise ScenarioError(f"{source}: fault kind {fault.kind!r} is not one of {', '.join(FAULT_KINDS)}")
        if fault.kind in RADAR_FAULTS and fault.radar not in ids:
            raise ScenarioError(f"{source}: fault {fault.kind} needs `radar` naming one of {', '.join(ids)}")
        if fault.kind == "clock-skew" and fault.at_s != 0:
            raise ScenarioError(f"{source}: fault clock-skew holds for the whole run: at_s must be 0")
        if fault.kind in ("radar-offline", "radar-reboot") and fault.duration_s <= 0:
            raise ScenarioError(f"{source}: fault {fault.kind} needs a positive duration_s")
        if not 0 <= fault.at_s < scenario.duration_s:
            raise ScenarioError(f"{source}: fault {fault.kind} at_s must lie within the run (0..{scenario.duration_s})")


def _check_sections(scenario: Scenario, source: str, radar_ids: list[str]) -> None:
    in_sections = [radar for section in scenario.sections for radar in (section.entry, section.exit)]
    section_ids = [section.id for section in scenario.sections]
    for section in scenario.sections:
        where = f"{source}: section {section.id}"
        if not is_radar_id(section.id) or section_ids.count(section.id) > 1:
            raise ScenarioError(f"{where}: id must be unique and match [A-Za-z0-9-]{{1,32}}")
        for radar_id in (section.entry, section.exit):
            if radar_id not in radar_ids:
                raise ScenarioError(f"{where}: entry and exit must name radars of the scenario, not {radar_id!r}")
            if in_sections.count(radar_id) > 1:
                raise ScenarioError(f"{where}: radar {radar_id} is in more than one section (or at both ends)")
        if not MIN_DISTANCE_M <= section.distance_m <= MAX_DISTANCE_M:
            raise ScenarioError(f"{where}: distance_m must be between {MIN_DISTANCE_M} and {MAX_DISTANCE_M}")
        if not 0 <= section.traffic.through_share <= 1 or not 0 <= section.traffic.speeder_share <= 1:
            raise ScenarioError(f"{where}: through_share and speeder_share are shares between 0 and 1")


def shipped() -> dict[str, Path]:
    """Shipped scenarios by name (file stem)."""
    folder = resources.files("speedledger.simulator") / "scenarios"
    return {Path(item.name).stem: Path(str(item)) for item in folder.iterdir() if item.name.endswith(".toml")}


def load(name_or_path: str) -> Scenario:
    """A shipped scenario by name, or a TOML file by path."""
    path = shipped().get(name_or_path) or Path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        names = ", ".join(sorted(shipped()))
        raise ScenarioError(
            f"{name_or_path}: no such scenario file or shipped scenario ({names}): {error.strerror}"
        ) from None
    return parse(text, str(name_or_path))
