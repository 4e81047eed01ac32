"""Retained speed and the default fine schedule (CONTRACT §3), at every boundary."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from speedledger.central.errors import ConfigurationError
from speedledger.central.infractions.fines import Fine, FineSchedule, load_fine_schedule

SCHEDULE = load_fine_schedule()


def test_contract_vectors(contract_vectors: dict[str, Any]) -> None:
    for case in contract_vectors["retained_speed_examples"]:
        retained = SCHEDULE.retained_speed_kmh(case["measured_speed_ckmh"])
        assert retained == case["retained"], case
        excess = retained - case["limit"]
        fine = SCHEDULE.fine(case["limit"], excess) if excess >= 1 else Fine(0, 0)
        assert (fine.fine_eur, fine.points) == (case["fine_eur"], case["points"]), case


@pytest.mark.parametrize(
    ("measured_ckmh", "retained"),
    [
        (9999, 94),  # 99.99 - 5 = 94.99 -> 94: the -5 rule up to just below 100 km/h
        (10000, 95),  # 100 * 0.95: the 95 % rule from 100 km/h on
        (10001, 95),
        (9500, 90),
        (9599, 90),  # truncated, never rounded up
        (9600, 91),
        (10527, 100),  # 100.0065 -> 100
        (10526, 99),  # 99.997 -> 99
        (500, 0),
        (0, 0),  # never negative
    ],
)
def test_retained_speed_rule_switch(measured_ckmh: int, retained: int) -> None:
    assert SCHEDULE.retained_speed_kmh(measured_ckmh) == retained


@pytest.mark.parametrize(
    ("limit", "excess", "fine_eur", "points"),
    [
        (90, 1, 68, 1),
        (90, 19, 68, 1),
        (90, 20, 135, 2),
        (50, 19, 135, 1),  # 50 km/h or less: 135 EUR under 20 km/h
        (50, 1, 135, 1),
        (51, 19, 68, 1),  # above 50 km/h: 68 EUR
        (30, 19, 135, 1),
        (50, 20, 135, 2),
        (90, 29, 135, 2),
        (90, 30, 135, 3),
        (90, 39, 135, 3),
        (90, 40, 135, 4),
        (90, 49, 135, 4),
        (90, 50, 1500, 6),
        (50, 50, 1500, 6),
        (130, 200, 1500, 6),
    ],
)
def test_fine_bands(limit: int, excess: int, fine_eur: int, points: int) -> None:
    assert SCHEDULE.fine(limit, excess) == Fine(fine_eur, points)


def test_no_fine_without_excess() -> None:
    with pytest.raises(ValueError, match="excess"):
        SCHEDULE.fine(90, 0)


def _schedule_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (Path(__file__).parents[2] / "central" / "infractions" / "fine_schedule.json").read_text()
    )
    return data


def test_overlapping_bands_are_refused() -> None:
    data = _schedule_data()
    data["bands"][2]["excess_from_kmh"] = 19  # 19 km/h now in two bands
    with pytest.raises(ConfigurationError, match=r"2 bands match limit .* excess 19"):
        FineSchedule.from_dict(data)


def test_gaps_are_refused() -> None:
    data = _schedule_data()
    del data["bands"][0]  # nothing for 1-19 km/h over a limit of 50 or less
    with pytest.raises(ConfigurationError, match="0 bands match limit 5 km/h, excess 1"):
        FineSchedule.from_dict(data)


def test_custom_schedule_from_file(tmp_path: Path) -> None:
    data = _schedule_data()
    data["name"] = "strict"
    data["retained_speed"]["below_threshold_subtract_kmh"] = 3
    data["bands"][-1]["fine_eur"] = 3750
    path = tmp_path / "strict.json"
    path.write_text(json.dumps(data))
    schedule = load_fine_schedule(path)
    assert schedule.name == "strict"
    assert schedule.retained_speed_kmh(8000) == 77
    assert schedule.fine(90, 60) == Fine(3750, 6)


@pytest.mark.parametrize("content", ["{", '{"name": "x"}', '{"name": "x", "retained_speed": {}, "bands": []}'])
def test_malformed_schedule_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError):
        load_fine_schedule(path)


def test_missing_schedule_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_fine_schedule(tmp_path / "absent.json")


def test_retained_speed_matches_exact_decimal_arithmetic() -> None:
    """Every measured speed from 0 to 300 km/h, in 1/100 km/h, against the contract's rule in Decimal."""
    for measured_ckmh in range(0, 30_001):
        measured = Decimal(measured_ckmh) / 100
        exact = measured - 5 if measured < 100 else measured * Decimal("0.95")
        assert SCHEDULE.retained_speed_kmh(measured_ckmh) == max(int(exact), 0), measured_ckmh


def test_schedule_data_matches_the_contract_text() -> None:
    """The JSON schedule against CONTRACT §3 restated as code, for every limit and excess in range."""

    def contract(limit: int, excess: int) -> Fine:
        if excess < 20:
            return Fine(68, 1) if limit > 50 else Fine(135, 1)
        if excess >= 50:
            return Fine(1500, 6)
        return Fine(135, 2 + (excess - 20) // 10)

    for limit in range(5, 251):
        for excess in range(1, 120):
            assert SCHEDULE.fine(limit, excess) == contract(limit, excess), (limit, excess)
