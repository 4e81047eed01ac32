"""Ready-made IQ scenes for tests, benchmarks and the traffic simulator."""

import numpy as np

from speedledger.edge.dsp.doppler import hz_per_kmh
from speedledger.simulator.iq import Clutter, FrontEnd, Interferer, Rain, Scene, Vehicle, pass_duration_s

SAMPLE_RATES = (24_000, 32_000, 44_100, 48_000)  # all >= 2x the Doppler of 250 km/h at 24.125 GHz


def realistic_front_end(rng: np.random.Generator, bits: int | None = 16) -> FrontEnd:
    """A few percent of IQ imbalance, a DC offset and 16-bit quantisation, drawn at random."""
    return FrontEnd(
        dc_offset=complex(rng.uniform(-5, 5), rng.uniform(-5, 5)),
        gain_imbalance=rng.uniform(-0.05, 0.05),
        phase_imbalance_deg=rng.uniform(-5, 5),
        bits=bits,
    )


def single_pass(
    rng: np.random.Generator,
    speed_kmh: float,
    angle_deg: float,
    snr_db: float,
    sample_rate: float,
    approaching: bool = True,
    wheel_db: float | None = -12.0,
    clutter: Clutter | None = None,
    front_end: FrontEnd | None = None,
    footprint_m: float = 6.0,
    rain: Rain | None = None,
    interferers: tuple[Interferer, ...] = (),
    duration_s: float | None = None,
) -> Scene:
    """One vehicle crossing the beam, centred in a recording just long enough to hold its pass
    (or `duration_s` long), with optional rain-like clutter and interferers."""
    probe = Vehicle(speed_kmh, 0.0, footprint_m=footprint_m)
    duration = duration_s if duration_s is not None else pass_duration_s(probe)
    vehicle = Vehicle(
        speed_kmh, duration / 2, approaching=approaching, snr_db=snr_db, wheel_db=wheel_db, footprint_m=footprint_m
    )
    return Scene(
        sample_rate,
        duration,
        (vehicle,),
        angle_deg=angle_deg,
        clutter=clutter if clutter is not None else Clutter(),
        front_end=front_end if front_end is not None else realistic_front_end(rng),
        rain=rain,
        interferers=interferers,
    )


def tone_at(scene_angle_deg: float, speed_kmh: float, level_db: float) -> Interferer:
    """A constant interferer at the Doppler an approaching target at `speed_kmh` would have."""
    return Interferer(speed_kmh * hz_per_kmh(angle_deg=scene_angle_deg), level_db)


def random_pass(rng: np.random.Generator, min_snr_db: float = -3.0, max_snr_db: float = 20.0) -> Scene:
    """A pass drawn from the accuracy matrix: 20-250 km/h, 0-30 degrees, either direction, impaired."""
    return single_pass(
        rng,
        speed_kmh=float(rng.uniform(20, 250)),
        angle_deg=float(rng.uniform(0, 30)),
        snr_db=float(rng.uniform(min_snr_db, max_snr_db)),
        sample_rate=float(rng.choice(SAMPLE_RATES)),
        approaching=bool(rng.integers(0, 2)),
        wheel_db=float(rng.uniform(-20, -8)),
    )
