"""IQ synthesis for a 24 GHz Doppler traffic radar: vehicles crossing the beam, and a real front end.

Physics modelled (shared by the DSP tests and the traffic simulator):
- a vehicle at constant speed crossing the beam footprint: its body return is a tone at
  f_d = 2 v cos(angle) f_c / c (positive when approaching), under a Gaussian envelope that is the
  two-way beam pattern along the road (`footprint_m` is its half-power length);
- wheel micro-Doppler: scatterers on the rims of the two visible wheels; a rim point at radius r
  moves along the road at v (1 + (r/R) cos psi), so its phase carries a sinusoidal term and its
  energy spreads from 0 to twice the body Doppler;
- clutter: a strong static return (DC), slowly swaying vegetation, and a mount vibration (fan,
  engine) that appears at +- its frequency;
- rain: many weak, short-lived scatterers (drops crossing the beam near the antenna) at random
  low Doppler in both directions, strong in total;
- interferers: constant tones in the passband for the whole recording (another radar nearby, a fan,
  mains hum leaking into the IF);
- front end: anti-alias filter (returns beyond Nyquist are not sampled), DC offset, IQ gain and
  phase imbalance, white noise at a set wideband SNR (body power at the beam centre over the noise
  power in the whole sampled band), 16-bit quantisation.

Noise has unit power; every other level is in dB relative to it.
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.io import wavfile

from speedledger.edge.dsp.doppler import DEFAULT_CARRIER_HZ, SPEED_OF_LIGHT_M_S, hz_per_kmh

WHEEL_RADIUS_M = 0.31
WHEELBASE_M = 2.7
BLOCK_MARGIN = 4.0  # half-power footprints each side of the beam centre that `synthesise_blocks` computes


@dataclass(frozen=True)
class Vehicle:
    """One pass: true speed along the road (km/h), time it crosses the beam centre (s), level."""

    speed_kmh: float
    centre_s: float
    approaching: bool = True
    snr_db: float = 10.0  # body power at the beam centre over the wideband noise power
    wheel_db: float | None = -12.0  # total wheel return relative to the body; None: no wheels
    footprint_m: float = 6.0  # half-power length of the beam along the road

    @property
    def direction(self) -> str:
        return "approaching" if self.approaching else "receding"


@dataclass(frozen=True)
class Clutter:
    """Static and moving clutter around the radar, levels in dB relative to the noise."""

    static_db: float = 30.0  # fixed objects: a constant (DC) return
    sway_db: float = 10.0  # swaying vegetation: a few Hz of spread around DC
    sway_hz: float = 3.0  # peak Doppler deviation of the sway
    sway_period_s: float = 2.0
    vibration_db: float = 15.0  # mount vibration (fan, engine) seen at +- vibration_hz
    vibration_hz: float = 97.0


@dataclass(frozen=True)
class Rain:
    """Rain-like clutter: `drops_per_s` short-lived scatterers, each at a random signed speed within
    +-`max_speed_kmh`, living `lifetime_s` (a uniform range) under a Hann envelope; `level_db` is their
    total mean power relative to the noise."""

    level_db: float = 20.0
    drops_per_s: float = 400.0
    max_speed_kmh: float = 25.0
    lifetime_s: tuple[float, float] = (0.02, 0.1)


@dataclass(frozen=True)
class Interferer:
    """A constant tone at `doppler_hz` (signed, + as an approaching target) for the whole recording,
    `level_db` relative to the noise."""

    doppler_hz: float
    level_db: float = 20.0


@dataclass(frozen=True)
class FrontEnd:
    """Receiver imperfections: DC offset (relative to the noise rms), IQ imbalance, quantisation."""

    dc_offset: complex = 0.0
    gain_imbalance: float = 0.0  # Q gain = 1 + this
    phase_imbalance_deg: float = 0.0
    bits: int | None = None  # quantise to this many bits (full scale at the largest sample)


@dataclass(frozen=True)
class Scene:
    sample_rate: float
    duration_s: float
    vehicles: tuple[Vehicle, ...] = ()
    angle_deg: float = 0.0  # between the beam and the road
    carrier_hz: float = DEFAULT_CARRIER_HZ
    clutter: Clutter | None = None
    front_end: FrontEnd = field(default_factory=FrontEnd)
    rain: Rain | None = None
    interferers: tuple[Interferer, ...] = ()

    def doppler_hz(self, vehicle: Vehicle) -> float:
        sign = 1.0 if vehicle.approaching else -1.0
        return sign * vehicle.speed_kmh * hz_per_kmh(self.carrier_hz, self.angle_deg)


def beam_envelope(vehicle: Vehicle, t: np.ndarray, offset_m: float = 0.0) -> np.ndarray:
    """Amplitude (1 at the beam centre) of a point `offset_m` ahead of the vehicle's centre."""
    position = vehicle.speed_kmh / 3.6 * (t - vehicle.centre_s) + offset_m
    envelope: np.ndarray = np.exp(-2.0 * math.log(2.0) * (position / vehicle.footprint_m) ** 2)
    return envelope


def anti_alias_gain(frequency_hz: np.ndarray | float, sample_rate: float) -> np.ndarray:
    """The receiver's anti-alias filter: flat to 0.45 fs, raised-cosine roll-off to nothing at fs/2."""
    x = np.clip((0.5 * sample_rate - np.abs(frequency_hz)) / (0.05 * sample_rate), 0.0, 1.0)
    gain: np.ndarray = 0.5 - 0.5 * np.cos(np.pi * x)
    return gain


def _vehicle_return(scene: Scene, vehicle: Vehicle, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    doppler = scene.doppler_hz(vehicle)
    amplitude = 10.0 ** (vehicle.snr_db / 20.0) * anti_alias_gain(doppler, scene.sample_rate)
    signal = amplitude * beam_envelope(vehicle, t) * np.exp(1j * (2 * np.pi * doppler * t + rng.uniform(0, 2 * np.pi)))
    if vehicle.wheel_db is None:
        return signal
    scatterers_per_wheel = 3
    wheel_amplitude = 10.0 ** ((vehicle.snr_db + vehicle.wheel_db) / 20.0) / math.sqrt(2 * scatterers_per_wheel)
    wavelength = SPEED_OF_LIGHT_M_S / scene.carrier_hz
    radial = math.cos(math.radians(scene.angle_deg)) * (1.0 if vehicle.approaching else -1.0)
    spin = vehicle.speed_kmh / 3.6 / WHEEL_RADIUS_M  # rad/s
    for axle_offset in (WHEELBASE_M / 2, -WHEELBASE_M / 2):
        envelope = wheel_amplitude * beam_envelope(vehicle, t, axle_offset)
        for _ in range(scatterers_per_wheel):
            radius = rng.uniform(0.15, WHEEL_RADIUS_M)
            angle = spin * t + rng.uniform(0, 2 * np.pi)
            phase = 2 * np.pi * doppler * t + 4 * np.pi / wavelength * radial * radius * np.sin(angle)
            filtered = anti_alias_gain(doppler * (1.0 + radius / WHEEL_RADIUS_M * np.cos(angle)), scene.sample_rate)
            signal += envelope * filtered * np.exp(1j * (phase + rng.uniform(0, 2 * np.pi)))
    return signal


def _clutter(clutter: Clutter, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    static = 10.0 ** (clutter.static_db / 20.0) * np.exp(1j * rng.uniform(0, 2 * np.pi))
    sway = 10.0 ** (clutter.sway_db / 20.0) * np.exp(
        1j
        * (
            rng.uniform(0, 2 * np.pi)
            + clutter.sway_hz * clutter.sway_period_s / (2 * np.pi) * np.sin(2 * np.pi * t / clutter.sway_period_s)
        )
    )
    vibration = (
        10.0 ** (clutter.vibration_db / 20.0)
        * np.cos(2 * np.pi * clutter.vibration_hz * t + rng.uniform(0, 2 * np.pi))
        * np.exp(1j * rng.uniform(0, 2 * np.pi))
    )
    result: np.ndarray = static + sway + vibration
    return result


def _rain(rain: Rain, scene: Scene, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Drops at uniform times, speeds and lifetimes; each a Hann-windowed tone at its Doppler."""
    result = np.zeros(t.size, dtype=np.complex128)
    count = rng.poisson(rain.drops_per_s * scene.duration_s)
    if count == 0:
        return result
    lifetimes = rng.uniform(*rain.lifetime_s, count)
    # Hann envelope: mean power 3/8 of its peak over the lifetime; the drops' mean power sums to the level.
    mean_alive = count * float(lifetimes.mean()) / scene.duration_s
    amplitude = math.sqrt(10.0 ** (rain.level_db / 10.0) / max(mean_alive, 1e-9) / 0.375)
    starts = rng.uniform(-rain.lifetime_s[1], scene.duration_s, count)
    doppler = rng.uniform(-1.0, 1.0, count) * rain.max_speed_kmh * hz_per_kmh(scene.carrier_hz, scene.angle_deg)
    phases = rng.uniform(0, 2 * np.pi, count)
    for start, lifetime, frequency, phase in zip(starts, lifetimes, doppler, phases, strict=True):
        first = max(0, math.ceil(start * scene.sample_rate))
        last = min(t.size, math.floor((start + lifetime) * scene.sample_rate))
        if last <= first:
            continue
        local = t[first:last]
        envelope = np.sin(np.pi * (local - start) / lifetime) ** 2
        result[first:last] += amplitude * envelope * np.exp(1j * (2 * np.pi * frequency * local + phase))
    return result


def _interferer(interferer: Interferer, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    amplitude = 10.0 ** (interferer.level_db / 20.0)
    tone: np.ndarray = amplitude * np.exp(1j * (2 * np.pi * interferer.doppler_hz * t + rng.uniform(0, 2 * np.pi)))
    return tone


def _front_end(iq: np.ndarray, front_end: FrontEnd) -> np.ndarray:
    i = iq.real.copy()
    q = iq.imag.copy()
    phi = math.radians(front_end.phase_imbalance_deg)
    q = (1.0 + front_end.gain_imbalance) * (q * math.cos(phi) + i * math.sin(phi))
    out = (i + front_end.dc_offset.real) + 1j * (q + front_end.dc_offset.imag)
    if front_end.bits is not None:
        full_scale = 2 ** (front_end.bits - 1)
        peak = max(np.abs(out.real).max(), np.abs(out.imag).max(), 1e-30)
        scale = (full_scale - 1) / peak
        out = (np.round(out.real * scale) + 1j * np.round(out.imag * scale)) / scale
    return out


def synthesise(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """Complex baseband samples (complex128, noise power 1) of the scene."""
    count = round(scene.duration_s * scene.sample_rate)
    t = np.arange(count) / scene.sample_rate
    iq = (rng.standard_normal(count) + 1j * rng.standard_normal(count)) / math.sqrt(2.0)
    for vehicle in scene.vehicles:
        iq += _vehicle_return(scene, vehicle, t, rng)
    if scene.clutter is not None:
        iq += _clutter(scene.clutter, t, rng)
    if scene.rain is not None:
        iq += _rain(scene.rain, scene, t, rng)
    for interferer in scene.interferers:
        iq += _interferer(interferer, t, rng)
    return _front_end(iq, scene.front_end)


def synthesise_blocks(scene: Scene, seed: int, block_s: float = 1.0) -> Iterator[np.ndarray]:
    """The scene as consecutive blocks of complex baseband, for recordings of any length in bounded memory.

    A vehicle is computed only while it is within `BLOCK_MARGIN` half-power footprints of the beam
    centre (its return is below 1e-9 of its peak beyond), and every vehicle and the clutter draw from
    their own generator seeded from (`seed`, index), so blocks join without a seam. Quantisation is
    left to whoever stores the samples (`scene.front_end.bits` is ignored).
    """
    noise_rng = np.random.default_rng([seed, 0])
    front_end = replace(scene.front_end, bits=None)
    total = round(scene.duration_s * scene.sample_rate)
    step = max(1, round(block_s * scene.sample_rate))
    windows = [
        (
            vehicle.centre_s - pass_duration_s(vehicle, BLOCK_MARGIN) / 2,
            vehicle.centre_s + pass_duration_s(vehicle, BLOCK_MARGIN) / 2,
        )
        for vehicle in scene.vehicles
    ]
    for start in range(0, total, step):
        count = min(step, total - start)
        t = (start + np.arange(count)) / scene.sample_rate
        iq = (noise_rng.standard_normal(count) + 1j * noise_rng.standard_normal(count)) / math.sqrt(2.0)
        for index, (vehicle, (first_s, last_s)) in enumerate(zip(scene.vehicles, windows, strict=True)):
            if last_s >= t[0] and first_s <= t[-1]:
                iq += _vehicle_return(scene, vehicle, t, np.random.default_rng([seed, 1, index]))
        if scene.clutter is not None:
            iq += _clutter(scene.clutter, t, np.random.default_rng([seed, 2]))
        yield _front_end(iq, front_end)


def write_iq_wav(path: str | Path, iq: np.ndarray, sample_rate: int, sample_format: str = "int16") -> None:
    """Two-channel WAV, left I and right Q: 16-bit PCM scaled to the largest sample, or 32-bit float as is."""
    stereo = np.column_stack((iq.real, iq.imag))
    if sample_format == "int16":
        peak = max(float(np.abs(stereo).max()), 1e-30)
        data = np.round(stereo * (32767.0 / peak)).astype(np.int16)
    elif sample_format == "float32":
        data = stereo.astype(np.float32)
    else:
        raise ValueError(f"sample format must be int16 or float32, not {sample_format!r}")
    wavfile.write(str(path), int(sample_rate), data)


def pass_duration_s(vehicle: Vehicle, margin: float = 2.5) -> float:
    """Time for the vehicle to cross the beam, `margin` half-power footprints each side."""
    return 2.0 * margin * vehicle.footprint_m / (vehicle.speed_kmh / 3.6)
