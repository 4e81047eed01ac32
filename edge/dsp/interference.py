"""Interferer notch: spectral lines that outlast any vehicle are found and their bins excluded.

Another radar nearby, a fan or mains hum leaking into the IF puts a constant tone in the passband.
A vehicle at the tone's speed could not stay in the beam that long (`TrackerConfig.max_dwell_ms`), so
a line seen for longer is an interferer: from then on, peaks within `width_hz` of it are dropped
before tracking, for as long as the line lasts. The tracker rejects the line's first stretch itself
(it is a track too long for its speed); the notch keeps a line that never ends from holding the
tracker's decisions back for ever.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# A line is notched once it has outlasted any vehicle by this factor, so that the track the tracker
# built from its first stretch is certainly longer than any vehicle's too.
NOTCH_AFTER = 1.25


@dataclass
class Interferer:
    """A notched line: its frequency (signed Hz, + as an approaching target), strongest SNR (dB) and
    when it was seen (ms since the start of the stream)."""

    doppler_hz: float
    level_db: float
    start_ms: float
    end_ms: float
    notched: bool = False


class LineNotch:
    """Follows every spectral peak frame to frame by frequency; drops the peaks of established lines.

    `match_hz`: how far a line's frequency may move between frames; `width_hz`: half-width of the
    notch; `max_dwell_ms(doppler_hz)`: the longest a vehicle at that Doppler can stay in the beam;
    `max_gap_ms`: a line unseen this long has ended.
    """

    def __init__(
        self, match_hz: float, width_hz: float, max_dwell_ms: Callable[[float], float], max_gap_ms: float
    ) -> None:
        self.match_hz = match_hz
        self.width_hz = width_hz
        self.max_dwell_ms = max_dwell_ms
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
            line.end_ms = t_ms
            line.level_db = max(line.level_db, level)
            if not line.notched and t_ms - line.start_ms > NOTCH_AFTER * self.max_dwell_ms(line.doppler_hz):
                line.notched = True
                self.notched.append(line)
            keep[index] = not line.notched
        self._lines = [line for line in self._lines if t_ms - line.end_ms <= self.max_gap_ms]
        for line in self._lines:
            if line.notched:
                keep &= np.abs(doppler_hz - line.doppler_hz) > self.width_hz
        return keep
