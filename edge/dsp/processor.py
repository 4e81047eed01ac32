"""Streaming Doppler processor: IQ samples in, one `VehiclePass` per vehicle out."""

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.io import wavfile

from speedledger.edge.core.tracker import Detection, PassTracker, TrackerConfig, VehiclePass
from speedledger.edge.dsp.doppler import DEFAULT_CARRIER_HZ, hz_per_kmh
from speedledger.edge.dsp.frontend import IQCorrector
from speedledger.edge.dsp.interference import LineNotch
from speedledger.edge.dsp.spectral import MAIN_LOBE_HALF_WIDTH_BINS, FrameAnalyser

NOISE_BLOCK_BINS = 64
# Two vehicles must lie this many bins apart to count as resolved: 1.5 Blackman-Harris main lobes.
RESOLUTION_BINS = 3 * MAIN_LOBE_HALF_WIDTH_BINS
# Only frequencies below this fraction of Nyquist are searched (anti-alias filter roll-off).
USABLE_BAND = 0.96
# SNRs are taken against the quietest receiver noise of the last this many seconds, not the frame's
# own: a vehicle's wheel micro-Doppler raises the band's median while it passes, which would make
# levels dip and rise within one pass and across vehicles.
NOISE_MEMORY_S = 2.0
# Vehicles are tracked from this fraction of the minimum speed, so that the wheels of a vehicle just
# too slow to report (which reach twice its speed) are recognised as its micro-Doppler.
TRACKED_BELOW_MINIMUM = 0.5
# A pass detected from the stream's first (or until its last) frame must rise from (fall back to) this
# far below its peak there, or the stream cut into it (TrackerConfig.edge_rise_db).
CUT_OFF_RISE_DB = 6.0
# The fastest speed enforcement must measure; a sample rate that cannot reach it aliases faster vehicles.
ENFORCEMENT_MAX_KMH = 250.0


@dataclass(frozen=True)
class ProcessorConfig:
    """DSP settings; the defaults suit 24 GHz traffic radars sampled at 24 kHz and more."""

    frame_s: float = 0.032  # FFT frame length
    overlap: float = 0.75  # fraction of a frame shared with the next one
    min_speed_kmh: float = 10.0  # nothing slower is reported (vibration, fans, swaying trees)
    max_speed_kmh: float = 320.0  # upper search limit (also capped by the sample rate)
    pfa: float = 1e-6  # CFAR false-alarm probability per bin and frame
    max_peaks_per_frame: int = 8  # strongest peaks handed to the tracker per frame
    correction_time_s: float = 2.0  # memory of the DC / IQ-imbalance estimators
    min_frames: int = 5  # supporting frames a vehicle needs
    min_gap_ms: int = 100  # a pass ends after this long without detection (at least 6 hops)
    # The installation's beam: the shortest and longest stretch of road it covers at half power (its
    # footprint), and the longest from which a vehicle is seen (see TrackerConfig).
    min_footprint_m: float = 1.0
    max_footprint_m: float = 25.0
    max_visible_m: float = 300.0
    max_peak_range_m: float = 60.0
    # The antenna's two-way half-power beamwidth (a 12 degree one-way K-band antenna): with the mounting
    # angle it bounds how far a vehicle's apparent speed drifts through the beam (TrackerConfig.beam_drift).
    beamwidth_deg: float = 8.5


@dataclass(frozen=True)
class FrameDetection:
    """One detection kept for plots: frame time, signed speed along the road, SNR."""

    t_ms: float
    speed_kmh: float
    snr_db: float


class DopplerProcessor:
    """Streaming processor. `feed(iq)` returns the passes completed so far, `flush()` the rest.

    `iq` is complex baseband, I + jQ, with approaching vehicles at positive Doppler. Times in the
    passes are ms since the first sample fed.
    """

    def __init__(
        self,
        sample_rate: float,
        carrier_hz: float = DEFAULT_CARRIER_HZ,
        angle_deg: float = 0.0,
        config: ProcessorConfig | None = None,
        keep_detections: bool = False,
        keep_rejected: bool = False,
    ) -> None:
        self.config = config = config if config is not None else ProcessorConfig()
        if sample_rate <= 0:
            raise ValueError(f"sample rate must be positive, got {sample_rate}")
        self.sample_rate = float(sample_rate)
        self.hz_per_kmh = hz_per_kmh(carrier_hz, angle_deg)
        nyquist_kmh = USABLE_BAND * self.sample_rate / 2 / self.hz_per_kmh
        if nyquist_kmh <= config.min_speed_kmh:
            raise ValueError(
                f"sample rate {sample_rate:g} Hz cannot show speeds above {nyquist_kmh:.1f} km/h at this "
                f"carrier and angle; the minimum reported speed is {config.min_speed_kmh} km/h"
            )
        self.max_speed_kmh = min(config.max_speed_kmh, nyquist_kmh)
        blocks = max(1, round(config.frame_s * self.sample_rate / NOISE_BLOCK_BINS))
        self.frame_size = blocks * NOISE_BLOCK_BINS
        self.hop = max(1, round(self.frame_size * (1.0 - config.overlap)))
        self.analyser = FrameAnalyser(
            self.frame_size,
            self.sample_rate,
            TRACKED_BELOW_MINIMUM * config.min_speed_kmh * self.hz_per_kmh,
            self.max_speed_kmh * self.hz_per_kmh,
            config.pfa,
            NOISE_BLOCK_BINS,
        )
        self.kmh_per_bin = self.analyser.bin_hz / self.hz_per_kmh
        hop_ms = 1000.0 * self.hop / self.sample_rate
        tracker_config = TrackerConfig(
            min_frames=config.min_frames,
            max_gap_ms=max(config.min_gap_ms, math.ceil(6 * hop_ms)),
            min_separation_kmh=RESOLUTION_BINS * self.kmh_per_bin,
            gate_kmh=max(1.5, 2.0 * self.kmh_per_bin),
            min_speed_kmh=config.min_speed_kmh,
            min_footprint_m=config.min_footprint_m,
            max_footprint_m=config.max_footprint_m,
            max_visible_m=config.max_visible_m,
            max_peak_range_m=config.max_peak_range_m,
            edge_rise_db=CUT_OFF_RISE_DB,
            beam_drift=math.tan(math.radians(angle_deg)) * math.radians(config.beamwidth_deg),
        )
        self.tracker = PassTracker(tracker_config, keep_rejected=keep_rejected)
        self.notch = LineNotch(
            match_hz=1.5 * self.analyser.bin_hz,
            bin_hz=self.analyser.bin_hz,
            width_hz=RESOLUTION_BINS * self.analyser.bin_hz,
            max_dwell_ms=lambda doppler_hz: tracker_config.max_dwell_ms(doppler_hz / self.hz_per_kmh),
            min_change_db=lambda doppler_hz, ms: tracker_config.min_change_db(
                abs(doppler_hz) / self.hz_per_kmh * ms / 3600.0
            ),
            max_gap_ms=tracker_config.max_gap_ms,
        )
        self.corrector = IQCorrector(
            config.correction_time_s * self.sample_rate,
            self.sample_rate,
            highpass_hz=0.8 * config.min_speed_kmh * self.hz_per_kmh,
        )
        self._pending = np.zeros(0, dtype=np.complex64)
        self._frames_done = 0
        self._noise_memory = max(1, round(NOISE_MEMORY_S * self.sample_rate / self.hop))
        self._noise_history = np.zeros(0)
        self.detections: list[FrameDetection] | None = [] if keep_detections else None

    @property
    def range_warning(self) -> str | None:
        """Why this sample rate is too low for enforcement speeds (faster vehicles alias), or None."""
        if self.max_speed_kmh >= ENFORCEMENT_MAX_KMH:
            return None
        return (
            f"at {self.sample_rate:g} Hz this radar cannot measure above {self.max_speed_kmh:.0f} km/h; "
            "faster vehicles fold over to wrong speeds"
        )

    def feed(self, iq: np.ndarray) -> list[VehiclePass]:
        corrected = self.corrector(np.asarray(iq).ravel())
        pending = np.concatenate((self._pending, corrected)) if self._pending.size else corrected
        count = (pending.size - self.frame_size) // self.hop + 1 if pending.size >= self.frame_size else 0
        passes: list[VehiclePass] = []
        if count:
            frames = sliding_window_view(pending, self.frame_size)[:: self.hop][:count]
            passes = self._process(frames)
            pending = pending[count * self.hop :]
        self._pending = pending.copy()
        return passes

    def flush(self) -> list[VehiclePass]:
        self._pending = np.zeros(0, dtype=np.complex64)
        passes: list[VehiclePass] = self.tracker.flush()
        return passes

    @property
    def horizon_ms(self) -> int:
        """No pass returned from now on is centred before this stream time (`PassTracker.horizon_ms`)."""
        return self.tracker.horizon_ms()

    def run(self, chunks: "Iterator[np.ndarray] | np.ndarray", chunk_samples: int | None = None) -> list[VehiclePass]:
        """Process a whole recording (an array, cut into chunks, or an iterator of chunks)."""
        if isinstance(chunks, np.ndarray):
            samples, step = chunks, chunk_samples or int(self.sample_rate)
            chunks = (samples[start : start + step] for start in range(0, samples.size, step))
        passes: list[VehiclePass] = []
        for chunk in chunks:
            passes.extend(self.feed(chunk))
        passes.extend(self.flush())
        return passes

    def _process(self, frames: np.ndarray) -> list[VehiclePass]:
        peaks = self.analyser.detect(frames)
        snr_db = 10.0 * np.log10(peaks.power / self._noise_reference(peaks.receiver_noise)[peaks.frame])
        order = np.lexsort((-snr_db, peaks.frame))
        rows = peaks.frame[order]
        doppler = peaks.doppler_hz[order]
        snrs = snr_db[order]
        starts = np.searchsorted(rows, np.arange(frames.shape[0] + 1))
        passes: list[VehiclePass] = []
        for row in range(frames.shape[0]):
            t_ms = 1000.0 * ((self._frames_done + row) * self.hop + self.frame_size / 2) / self.sample_rate
            first, end = starts[row], starts[row + 1]
            notched = len(self.notch.notched)
            kept = first + np.flatnonzero(self.notch.keep(t_ms, doppler[first:end], snrs[first:end]))
            for line in self.notch.notched[notched:]:
                self.tracker.interferer(line.doppler_hz / self.hz_per_kmh, self.notch.width_hz / self.hz_per_kmh)
            detections = [
                Detection(float(doppler[i] / self.hz_per_kmh), float(snrs[i]))
                for i in kept[: self.config.max_peaks_per_frame]
            ]
            if self.detections is not None:
                self.detections.extend(FrameDetection(t_ms, d.speed_kmh, d.snr_db) for d in detections)
            passes.extend(self.tracker.update(round(t_ms), detections))
        self._frames_done += frames.shape[0]
        return passes

    def _noise_reference(self, receiver_noise: np.ndarray) -> np.ndarray:
        """For each frame, the lowest receiver noise over the preceding NOISE_MEMORY_S (itself included)."""
        history = np.concatenate((self._noise_history, receiver_noise))
        padded = np.concatenate((np.full(self._noise_memory - 1, np.inf), history))
        windows = sliding_window_view(padded, self._noise_memory)[-receiver_noise.size :]
        self._noise_history = history[-(self._noise_memory - 1) :] if self._noise_memory > 1 else history[:0]
        reference: np.ndarray = windows.min(axis=1)
        return reference


def _wav_chunks(data: np.ndarray, chunk_samples: int) -> Iterator[np.ndarray]:
    scale = 1.0 / 32768.0 if data.dtype == np.int16 else 1.0
    for start in range(0, data.shape[0], chunk_samples):
        block = np.asarray(data[start : start + chunk_samples], dtype=np.float32)
        iq = np.empty(block.shape[0], dtype=np.complex64)
        iq.real = block[:, 0] * scale
        iq.imag = block[:, 1] * scale
        yield iq


def _open_iq_wav(path: str | Path) -> tuple[int, np.ndarray]:
    try:
        rate, data = wavfile.read(str(path), mmap=True)
    except (ValueError, OSError) as error:
        raise ValueError(f"{path}: not a readable WAV file ({error})") from error
    if data.ndim != 2 or data.shape[1] != 2:
        channels = 1 if data.ndim == 1 else data.shape[1]
        raise ValueError(f"{path}: IQ recordings need two channels (left I, right Q), this one has {channels}")
    if data.dtype not in (np.int16, np.float32):
        raise ValueError(f"{path}: IQ samples must be 16-bit PCM or 32-bit float, not {data.dtype}")
    return rate, data


def read_iq_wav(path: str | Path) -> tuple[int, np.ndarray]:
    """Sample rate and complex IQ (complex64, full scale = 1) of a two-channel WAV (left I, right Q)."""
    rate, data = _open_iq_wav(path)
    return rate, np.concatenate(list(_wav_chunks(data, max(1, data.shape[0])))) if data.shape[0] else np.zeros(
        0, np.complex64
    )


def iter_iq_wav(path: str | Path, chunk_s: float = 1.0) -> tuple[int, Iterator[np.ndarray]]:
    """Sample rate and complex IQ chunks of a two-channel WAV, read lazily (recordings of any length)."""
    rate, data = _open_iq_wav(path)
    return rate, _wav_chunks(data, max(1, round(rate * chunk_s)))


def measure_wav(
    path: str | Path,
    carrier_hz: float = DEFAULT_CARRIER_HZ,
    angle_deg: float = 0.0,
    config: ProcessorConfig | None = None,
) -> list[VehiclePass]:
    """Every vehicle pass in an IQ recording, valid or not (see `VehiclePass.invalid`), in time order."""
    rate, chunks = iter_iq_wav(path)
    processor = DopplerProcessor(rate, carrier_hz=carrier_hz, angle_deg=angle_deg, config=config)
    return processor.run(chunks)
