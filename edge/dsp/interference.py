"""Interferer notch: persistent spectral lines are found by what they are and their bins excluded.

Another radar nearby, a fan or mains hum leaking into the IF puts a constant tone in the passband.
Every spectral peak is followed frame to frame by frequency as a line. A line is an interferer, and
from then on the peaks within `width_hz` of it are dropped before tracking for as long as it lasts,
as soon as either
- it has held one frequency (within a bin) at one level over more road, at its speed, than any
  vehicle could cross without its level changing by more (`min_change_db`: the beam pattern about
  the peak, the radar equation far out along the beam), the level noise aside: a 15 km/h line at a
  few seconds, a 67 km/h one within a second or two; or
- it has outlasted any vehicle at its speed (`max_dwell_ms`), whatever its level did.
The processor tells the tracker when a line is notched, so that the track built from its first
stretch is rejected as an interferer rather than judged as a vehicle that stopped at its peak.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

# A line is notched once it has outlasted any vehicle by this factor, so that the track the tracker
# built from its first stretch is certainly longer than any vehicle's too.
NOTCH_AFTER = 1.25
# A line's level is followed as the median of each this long a block of its frames...
LEVEL_BLOCK_MS = 250.0
# ...whose noise (the spread of a constant tone's block medians, measured: 0.4-0.6 dB from 0 to
# 30 dB, 1.0 dB at -10 dB) a vehicle's change of level must exceed to be told from a tone by it.
LEVEL_NOISE_DB = 0.5
# A line is judged by its level only once it has this many blocks.
MIN_BLOCKS = 4


@dataclass
class Interferer:
    """A followed line: its frequency (signed Hz, + as an approaching target), strongest SNR (dB) and
    when it was seen (ms since the start of the stream); notched lines are interferers."""

    doppler_hz: float
    level_db: float
    start_ms: float
    end_ms: float
    notched_ms: float | None = None  # when it was found to be an interferer (None: not yet)
    lowest_hz: float = field(default=0.0, repr=False)
    highest_hz: float = field(default=0.0, repr=False)
    levels: list[float] = field(default_factory=list, repr=False)  # medians of the closed blocks
    block: list[float] = field(default_factory=list, repr=False)  # levels of the block under way
    block_start_ms: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.lowest_hz = self.highest_hz = self.doppler_hz
        self.block = [self.level_db]
        self.block_start_ms = self.start_ms

    def add(self, t_ms: float, doppler_hz: float, level_db: float) -> bool:
        """Record one frame's peak; True when this closed a block of levels."""
        self.end_ms = t_ms
        self.level_db = max(self.level_db, level_db)
        self.lowest_hz = min(self.lowest_hz, doppler_hz)
        self.highest_hz = max(self.highest_hz, doppler_hz)
        self.block.append(level_db)
        if t_ms - self.block_start_ms < LEVEL_BLOCK_MS:
            return False
        self.levels.append(float(np.median(self.block)))
        self.block = []
        self.block_start_ms = t_ms
        return True


class LineNotch:
    """Follows every spectral peak frame to frame by frequency; drops the peaks of interferer lines.

    `match_hz`: how far a line's frequency may lie from where it started; `bin_hz`: the FFT bin, the
    frequency spread a tone may show; `width_hz`: half-width of the notch; `max_dwell_ms(doppler_hz)`:
    the longest a vehicle at that Doppler can stay in the beam; `min_change_db(doppler_hz, ms)`: the
    least a vehicle at that Doppler changes level over that long; `max_gap_ms`: a line unseen this
    long has ended.
    """

    def __init__(
        self,
        match_hz: float,
        bin_hz: float,
        width_hz: float,
        max_dwell_ms: Callable[[float], float],
        min_change_db: Callable[[float, float], float],
        max_gap_ms: float,
    ) -> None:
        self.match_hz = match_hz
        self.bin_hz = bin_hz
        self.width_hz = width_hz
        self.max_dwell_ms = max_dwell_ms
        self.min_change_db = min_change_db
        self.max_gap_ms = max_gap_ms
        self._lines: list[Interferer] = []
        self.notched: list[Interferer] = []  # every line that was notched, for diagnostics

    def keep(self, t_ms: float, doppler_hz: np.ndarray, snr_db: np.ndarray) -> np.ndarray:
        """Which of this frame's peaks are not on a notched line (boolean mask)."""
        keep = np.ones(doppler_hz.size, dtype=bool)
        for index, (frequency, level) in enumerate(zip(doppler_hz.tolist(), snr_db.tolist(), strict=True)):
            line = min(self._lines, key=lambda candidate: abs(candidate.doppler_hz - frequency), default=None)
            if line is None or abs(line.doppler_hz - frequency) > self.match_hz:
                self._lines.append(Interferer(frequency, level, t_ms, t_ms))
                continue
            closed_block = line.add(t_ms, frequency, level)
            if line.notched_ms is None and (
                t_ms - line.start_ms > NOTCH_AFTER * self.max_dwell_ms(line.doppler_hz)
                or (closed_block and self._steady(line))
            ):
                line.notched_ms = t_ms
                self.notched.append(line)
            keep[index] = line.notched_ms is None
        self._lines = [line for line in self._lines if t_ms - line.end_ms <= self.max_gap_ms]
        for line in self._lines:
            if line.notched_ms is not None:
                keep &= np.abs(doppler_hz - line.doppler_hz) > self.width_hz
        return keep

    def _steady(self, line: Interferer) -> bool:
        """Whether the line held one frequency and one level over longer than any vehicle could."""
        if len(line.levels) < MIN_BLOCKS or line.highest_hz - line.lowest_hz > self.bin_hz:
            return False
        spread = max(line.levels) - min(line.levels)
        duration_ms = line.block_start_ms - line.start_ms
        return spread + LEVEL_NOISE_DB < self.min_change_db(line.doppler_hz, duration_ms)
