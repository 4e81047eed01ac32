"""The Linux agent's clock uncertainty from the kernel (`adjtimex`), and no valid time while unsynchronised."""

import pytest

from speedledger.edge.agent.timesync import STA_UNSYNC, TIME_ERROR, KernelTimeSync, uncertainty_ms


@pytest.mark.parametrize(
    ("state", "status", "maxerror_us", "expected"),
    [
        (0, 0, 16_000, 16),
        (0, 0, 16_001, 17),  # rounded up: in favour of the driver
        (0, STA_UNSYNC, 16_000, None),
        (TIME_ERROR, 0, 16_000, None),
        (-1, 0, 0, None),
    ],
)
def test_uncertainty_from_the_kernel_state(state: int, status: int, maxerror_us: int, expected: int | None) -> None:
    assert uncertainty_ms(state, status, maxerror_us) == expected


def test_reading_the_kernel_changes_nothing_and_gives_a_bound_or_none() -> None:
    value = KernelTimeSync().uncertainty_ms()
    assert value is None or value >= 0
