"""CONTRACT section 6 `section_examples`: the section computation, vector by vector, and its boundaries."""

from typing import Any

import pytest

from speedledger.central.infractions.fines import load_fine_schedule
from speedledger.central.sections.speed import PassageTime, average_speed_kmh, section_speed


def test_section_examples(contract_vectors: dict[str, Any]) -> None:
    schedule = load_fine_schedule()
    examples = contract_vectors["section_examples"]
    assert examples
    for example in examples:
        result = section_speed(
            example["distance_m"],
            example["speed_limit_kmh"],
            PassageTime(example["t_entry_ms"], example["u_entry_ms"]),
            PassageTime(example["t_exit_ms"], example["u_exit_ms"]),
            schedule,
        )
        assert result.average_speed_kmh == example["average_speed_kmh"], example["about"]
        assert result.retained_speed_kmh == example["retained_speed_kmh"], example["about"]
        assert (result.fine is not None) == bool(example["infraction"]), example["about"]
        if result.fine is not None:
            assert (result.fine.fine_eur, result.fine.points) == (example["fine_eur"], example["points"])


def test_clock_uncertainty_is_in_favour_of_the_driver() -> None:
    # 1000 m in exactly 30 s is 120 km/h; one millisecond of uncertainty takes it below.
    assert average_speed_kmh(1000, PassageTime(0, 0), PassageTime(30_000, 0)) == 120
    assert average_speed_kmh(1000, PassageTime(0, 1), PassageTime(30_000, 0)) == 119
    assert average_speed_kmh(1000, PassageTime(0, 0), PassageTime(30_000, 1)) == 119


def test_exit_before_entry_is_refused() -> None:
    with pytest.raises(ValueError, match="after the entry"):
        average_speed_kmh(1000, PassageTime(5000, 0), PassageTime(5000, 0))
