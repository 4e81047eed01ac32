"""Retained speed and fines from a schedule kept as data (`fine_schedule.json`, the French default).

All arithmetic is on integers (measured speed in 1/100 km/h), so no float rounding can move a
boundary. A schedule is checked when loaded: every (limit, excess >= 1) pair falls in exactly one band.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from speedledger.central.errors import ConfigurationError
from speedledger.shared.retained_speed import RetainedSpeedRule

#: Limits a schedule must cover (km/h), as radars accept them.
LIMIT_RANGE = (5, 250)


@dataclass(frozen=True)
class FineBand:
    excess_from_kmh: int
    excess_to_kmh: int | None
    limit_above_kmh: int | None
    limit_at_most_kmh: int | None
    fine_eur: int
    points: int

    def covers(self, limit_kmh: int, excess_kmh: int) -> bool:
        return (
            self.excess_from_kmh <= excess_kmh
            and (self.excess_to_kmh is None or excess_kmh <= self.excess_to_kmh)
            and (self.limit_above_kmh is None or limit_kmh > self.limit_above_kmh)
            and (self.limit_at_most_kmh is None or limit_kmh <= self.limit_at_most_kmh)
        )


@dataclass(frozen=True)
class Fine:
    fine_eur: int
    points: int


@dataclass(frozen=True)
class FineSchedule:
    name: str
    threshold_kmh: int
    below_threshold_subtract_kmh: int
    from_threshold_percent: int
    bands: tuple[FineBand, ...]

    @property
    def retained_rule(self) -> RetainedSpeedRule:
        """The retained-speed rule, as radars receive it in their signed config."""
        return RetainedSpeedRule(self.threshold_kmh, self.below_threshold_subtract_kmh, self.from_threshold_percent)

    def retained_speed_kmh(self, measured_speed_ckmh: int) -> int:
        """Measured minus the tolerance, truncated to whole km/h (never below 0)."""
        return self.retained_rule.retained_kmh(measured_speed_ckmh)

    def fine(self, limit_kmh: int, excess_kmh: int) -> Fine:
        """The fine for `excess_kmh` >= 1 over `limit_kmh`."""
        if excess_kmh < 1:
            raise ValueError("no fine without an excess")
        (band,) = [band for band in self.bands if band.covers(limit_kmh, excess_kmh)]
        return Fine(band.fine_eur, band.points)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FineSchedule:
        try:
            rule = data["retained_speed"]
            schedule = cls(
                name=str(data["name"]),
                threshold_kmh=_int(rule["threshold_kmh"]),
                below_threshold_subtract_kmh=_int(rule["below_threshold_subtract_kmh"]),
                from_threshold_percent=_int(rule["from_threshold_percent"]),
                bands=tuple(
                    FineBand(
                        excess_from_kmh=_int(band["excess_from_kmh"]),
                        excess_to_kmh=_optional_int(band.get("excess_to_kmh")),
                        limit_above_kmh=_optional_int(band.get("limit_above_kmh")),
                        limit_at_most_kmh=_optional_int(band.get("limit_at_most_kmh")),
                        fine_eur=_int(band["fine_eur"]),
                        points=_int(band["points"]),
                    )
                    for band in data["bands"]
                ),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigurationError(f"fine schedule is malformed: {error!r}") from error
        schedule._check_coverage()
        try:
            schedule.retained_rule.config_fields()
        except ValueError as error:
            raise ConfigurationError(
                f"fine schedule {schedule.name}: retained_speed: {error} (radars' range)"
            ) from error
        return schedule

    def _check_coverage(self) -> None:
        """Each (limit, excess) pair at and around every band edge is covered by exactly one band."""
        low, high = LIMIT_RANGE
        limits = {low, high}
        excesses = {1, 1000}
        for band in self.bands:
            if band.fine_eur < 0 or band.points < 0 or band.excess_from_kmh < 1:
                raise ConfigurationError(f"fine schedule {self.name}: negative or empty band {band}")
            for edge in (band.limit_above_kmh, band.limit_at_most_kmh):
                if edge is not None:
                    limits.update(value for value in (edge, edge + 1) if low <= value <= high)
            edges = [band.excess_from_kmh - 1, band.excess_from_kmh]
            if band.excess_to_kmh is not None:
                edges += [band.excess_to_kmh, band.excess_to_kmh + 1]
            excesses.update(edge for edge in edges if edge >= 1)
        for limit in sorted(limits):
            for excess in sorted(excesses):
                matching = [band for band in self.bands if band.covers(limit, excess)]
                if len(matching) != 1:
                    raise ConfigurationError(
                        f"fine schedule {self.name}: {len(matching)} bands match limit {limit} km/h, "
                        f"excess {excess} km/h (exactly one must)"
                    )


def load_fine_schedule(path: Path | None = None) -> FineSchedule:
    """The schedule in `path`, or the packaged French default."""
    return FineSchedule.from_dict(fine_schedule_document(path))


def fine_schedule_document(path: Path | None = None) -> dict[str, Any]:
    """The schedule's JSON document as written (what evidence exports carry), unchecked."""
    if path is None:
        text = resources.files("speedledger.central.infractions").joinpath("fine_schedule.json").read_text()
    else:
        try:
            text = path.read_text()
        except OSError as error:
            raise ConfigurationError(f"cannot read fine schedule {path}: {error.strerror}") from error
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ConfigurationError(f"fine schedule {path or 'default'} is not JSON: {error}") from error
    if not isinstance(data, dict):
        raise ConfigurationError(f"fine schedule {path or 'default'} is not a JSON object")
    return data


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not an integer")
    return value


def _optional_int(value: object) -> int | None:
    return None if value is None else _int(value)
