"""DC and IQ-imbalance correction restores a circular signal and suppresses the mirror image."""

import numpy as np

from speedledger.edge.dsp.frontend import IQCorrector
from speedledger.simulator.iq import Clutter, FrontEnd, Scene, Vehicle, synthesise


def image_rejection_db(iq: np.ndarray, sample_rate: float, tone_hz: float) -> float:
    spectrum = np.abs(np.fft.fft(iq * np.blackman(iq.size))) ** 2
    freqs = np.fft.fftfreq(iq.size, 1 / sample_rate)
    tone = spectrum[np.argmin(np.abs(freqs - tone_hz))]
    image = spectrum[np.argmin(np.abs(freqs + tone_hz))]
    return float(10 * np.log10(tone / image))


def test_imbalance_and_dc_are_removed_despite_a_vibrating_mount() -> None:
    rate = 32_000.0
    steady = Vehicle(100.0, 0.0, snr_db=40.0, wheel_db=None, footprint_m=1e6)  # stays in the beam
    scene = Scene(
        rate, 2.0, (steady,), clutter=Clutter(vibration_db=35.0),
        front_end=FrontEnd(dc_offset=50 - 30j, gain_imbalance=0.06, phase_imbalance_deg=5.0),
    )  # fmt: skip
    raw = synthesise(scene, np.random.default_rng(3))
    tone_hz = scene.doppler_hz(steady)
    corrector = IQCorrector(time_constant_samples=rate, sample_rate=rate, highpass_hz=350.0)
    corrected = np.concatenate([corrector(raw[i : i + 4000]) for i in range(0, raw.size, 4000)])
    tail = corrected[raw.size // 2 :]  # after the estimators have settled
    assert image_rejection_db(raw[raw.size // 2 :], rate, tone_hz) < 35
    assert image_rejection_db(tail, rate, tone_hz) > 55
    # what is left of the mean is the swaying clutter, which is not DC
    assert abs(tail.mean()) < 0.05 * abs(raw[raw.size // 2 :].mean())
