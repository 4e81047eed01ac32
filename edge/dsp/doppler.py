"""Doppler geometry shared by the DSP and the IQ simulator."""

import math

SPEED_OF_LIGHT_M_S = 299_792_458.0
DEFAULT_CARRIER_HZ = 24.125e9
KMH_PER_M_S = 3.6


def hz_per_kmh(carrier_hz: float = DEFAULT_CARRIER_HZ, angle_deg: float = 0.0) -> float:
    """Doppler shift (Hz) produced by 1 km/h of speed along the road, seen at `angle_deg` from it.

    f_d = 2 v cos(angle) f_c / c; 44.707 Hz per km/h at 24.125 GHz and 0°.
    """
    if not 0.0 <= angle_deg < 90.0:
        raise ValueError(f"mounting angle must be in [0, 90) degrees, got {angle_deg}")
    if carrier_hz <= 0:
        raise ValueError(f"carrier frequency must be positive, got {carrier_hz}")
    return 2.0 * carrier_hz * math.cos(math.radians(angle_deg)) / (SPEED_OF_LIGHT_M_S * KMH_PER_M_S)


def max_permissible_error_kmh(speed_kmh: float) -> float:
    """OIML R91's maximum permissible error of a traffic radar in service: 3 km/h up to 100 km/h,
    3 % above."""
    return max(3.0, 0.03 * speed_kmh)
