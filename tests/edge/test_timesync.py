"""The Linux agent's clock uncertainty from the kernel (`adjtimex`), and no valid time while unsynchronised;
or a declared bound (`edge run --clock-uncertainty-ms`)."""

import pytest

from speedledger.edge.agent.timesync import STA_UNSYNC, TIME_ERROR, FixedTimeSync, KernelTimeSync, uncertainty_ms


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


def test_a_declared_bound_is_reported_as_it_is_and_never_negative() -> None:
    assert FixedTimeSync(25).uncertainty_ms() == 25
    with pytest.raises(ValueError, match="negative"):
        FixedTimeSync(-1)
