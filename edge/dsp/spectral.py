"""Frame analysis: windowed FFT, noise floor, CFAR detection and sub-bin peak interpolation.

Everything is vectorised over a batch of frames (one row each).
"""

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft
from scipy.signal import get_window

# 4-term Blackman-Harris: -92 dB sidelobes, so a strong vehicle never shows sidelobe "targets";
# its main lobe spans +-4 bins, which is also the resolution the tracker is told about.
WINDOW = "blackmanharris"
MAIN_LOBE_HALF_WIDTH_BINS = 4
# A peak is a vehicle body only if it is tonal: its log-power curvature at least this fraction of a
# pure tone's. Smeared lumps (wheel micro-Doppler, swaying clutter) are flatter; noise at the CFAR
# threshold keeps >99.9 % of true tones above it.
MIN_TONALITY = 0.4


@dataclass(frozen=True)
class Peaks:
    """Detections of a batch of frames, flattened: frame row, signed Doppler (Hz), peak power; and
    each frame's receiver noise (mean noise power per bin: the median of the speed band's block floors).
    """

    frame: np.ndarray
    doppler_hz: np.ndarray
    power: np.ndarray
    receiver_noise: np.ndarray


class FrameAnalyser:
    """Power spectra and CFAR detections of `size`-sample frames at `sample_rate`.

    The noise floor is the median of each `noise_block_bins`-wide block of bins (robust to the few
    bins a vehicle occupies), scaled by 1/ln 2 to the mean of exponentially distributed noise power.
    A bin is detected when its power exceeds the floor by -ln(pfa) (cell-averaging CFAR on that
    floor), it is the maximum within a main lobe, and its frequency lies in [min_hz, max_hz].
    """

    def __init__(self, size: int, sample_rate: float, min_hz: float, max_hz: float, pfa: float, noise_block_bins: int):
        if size % noise_block_bins:
            raise ValueError("frame size must be a multiple of the noise block")
        self.size = size
        self.sample_rate = sample_rate
        self.window = get_window(WINDOW, size, fftbins=True).astype(np.float32)
        self.bin_hz = sample_rate / size
        freqs = scipy.fft.fftfreq(size, 1.0 / sample_rate)
        self.band = (np.abs(freqs) >= min_hz) & (np.abs(freqs) <= max_hz)
        self.threshold = -math.log(pfa)
        self.noise_block_bins = noise_block_bins
        self.band_blocks = self.band.reshape(-1, noise_block_bins).any(axis=1)
        tone = self.power(np.exp(2j * np.pi * np.arange(size) * (size // 4) / size)[None, :])[0]
        log_tone = np.log(tone[size // 4 - 1 : size // 4 + 2])
        self.tone_curvature = float(log_tone[0] - 2 * log_tone[1] + log_tone[2])

    def power(self, frames: np.ndarray) -> np.ndarray:
        spectrum = scipy.fft.fft(frames * self.window, axis=1, workers=1)
        power: np.ndarray = spectrum.real**2 + spectrum.imag**2
        return power

    def noise_floor(self, power: np.ndarray) -> np.ndarray:
        """Mean noise power of each `noise_block_bins` block of each frame, shape (frames, blocks)."""
        rows, size = power.shape
        blocks = power.reshape(rows, size // self.noise_block_bins, self.noise_block_bins)
        middle = self.noise_block_bins // 2  # upper median: one partition, no averaging
        median = np.partition(blocks, middle, axis=2)[:, :, middle]
        floor: np.ndarray = np.maximum(median / math.log(2.0), np.finfo(np.float32).tiny)
        return floor

    def detect(self, frames: np.ndarray) -> Peaks:
        """Detected peaks of every frame (one row a frame)."""
        power = self.power(frames)
        rows, size = power.shape
        floor = self.noise_floor(power)
        above = power.reshape((*floor.shape, self.noise_block_bins)) > self.threshold * floor[:, :, None]
        row, k = np.nonzero(above.reshape(rows, size) & self.band)
        lobe = np.arange(-MAIN_LOBE_HALF_WIDTH_BINS, MAIN_LOBE_HALF_WIDTH_BINS + 1)
        lobe_max = power[row[:, None], (k[:, None] + lobe) % size].max(axis=1)
        strongest = power[row, k] >= lobe_max
        row, k = row[strongest], k[strongest]
        tiny = np.finfo(np.float32).tiny
        left = np.log(power[row, (k - 1) % size] + tiny)
        centre = np.log(power[row, k] + tiny)
        right = np.log(power[row, (k + 1) % size] + tiny)
        # Gaussian (log-parabolic) interpolation: the Blackman-Harris main lobe is close to a Gaussian.
        curvature = left - 2.0 * centre + right
        tonal = curvature <= MIN_TONALITY * self.tone_curvature
        row, k, left, right, curvature = row[tonal], k[tonal], left[tonal], right[tonal], curvature[tonal]
        with np.errstate(divide="ignore", invalid="ignore"):
            offset = np.where(curvature < 0, 0.5 * (left - right) / curvature, 0.0)
        offset = np.clip(offset, -0.5, 0.5)
        signed_bin = np.where(k > size // 2, k - size, k)
        doppler = (signed_bin + offset) * self.bin_hz
        receiver_noise = np.median(floor[:, self.band_blocks], axis=1)
        return Peaks(row, doppler, power[row, k], receiver_noise)
