"""A vehicle crossing a real beam: the angle to the radar changes along the road (the cosine effect).

`simulator.iq` holds the angle constant (far field, narrow beam). Here the radar stands `offset_m`
beside the lane (or above it, on a gantry), its beam `angle_deg` off the road and `beamwidth_deg`
wide (two-way half-power, Gaussian). The return's phase is the exact two-way path, -4 pi R(t) / lambda,
so its Doppler is 2 v cos(theta(t)) / lambda with theta the true line-of-sight angle at each instant;
its amplitude follows the beam pattern at theta - angle_deg and the radar equation (power ~ R^-4),
normalised to `snr_db` where the vehicle crosses the beam axis.
"""

import math
from dataclasses import dataclass

import numpy as np

from speedledger.edge.dsp.doppler import DEFAULT_CARRIER_HZ, SPEED_OF_LIGHT_M_S
from speedledger.simulator.iq import FrontEnd, _front_end

# The pass is synthesised while the vehicle lies within this many beamwidths of the beam axis...
SPAN_BEAMWIDTHS = 1.5
# ...and this long before and after, as a radar that keeps listening records it (so the DSP's front
# end has settled and the stream's ends do not cut the pass; the beam pattern fades the vehicle out).
LEAD_S = 1.0


@dataclass(frozen=True)
class Mounting:
    angle_deg: float  # between the beam axis and the road
    offset_m: float = 3.5  # distance from the radar to the lane's line (beside it, or above it)
    beamwidth_deg: float = 8.5  # two-way half-power beamwidth (a 12 degree one-way K-band antenna)
    carrier_hz: float = DEFAULT_CARRIER_HZ

    def along_road_m(self, angle_deg: float) -> float:
        """Where on the lane the line of sight at `angle_deg` from the road meets it."""
        return self.offset_m / math.tan(math.radians(angle_deg))


def beam_crossing(
    mounting: Mounting,
    speed_kmh: float,
    snr_db: float,
    sample_rate: float,
    rng: np.random.Generator,
    approaching: bool = True,
    front_end: FrontEnd | None = None,
) -> tuple[np.ndarray, float]:
    """Complex baseband (noise power 1) of one vehicle crossing the beam, and the time (s) it
    crosses the beam axis."""
    low = max(mounting.angle_deg - SPAN_BEAMWIDTHS * mounting.beamwidth_deg, 1.0)
    high = min(mounting.angle_deg + SPAN_BEAMWIDTHS * mounting.beamwidth_deg, 80.0)
    far, near = mounting.along_road_m(low), mounting.along_road_m(high)
    centre = mounting.along_road_m(mounting.angle_deg)
    speed = speed_kmh / 3.6
    duration = (far - near) / speed
    t = np.arange(round((duration + 2 * LEAD_S) * sample_rate)) / sample_rate - LEAD_S
    along = far - speed * t if approaching else near + speed * t
    crossing_s = LEAD_S + ((far - centre) / speed if approaching else (centre - near) / speed)
    theta = np.degrees(np.arctan2(mounting.offset_m, along))
    ranges = np.hypot(along, mounting.offset_m)
    centre_range = math.hypot(centre, mounting.offset_m)
    gain = np.exp(-2.0 * math.log(2.0) * ((theta - mounting.angle_deg) / mounting.beamwidth_deg) ** 2)
    amplitude = 10.0 ** (snr_db / 20.0) * gain * (centre_range / ranges) ** 2
    wavelength = SPEED_OF_LIGHT_M_S / mounting.carrier_hz
    phase = -4.0 * np.pi * ranges / wavelength + rng.uniform(0, 2 * np.pi)
    noise = (rng.standard_normal(t.size) + 1j * rng.standard_normal(t.size)) / math.sqrt(2.0)
    return _front_end(noise + amplitude * np.exp(1j * phase), front_end or FrontEnd()), crossing_s
