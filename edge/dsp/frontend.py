"""Receiver front-end corrections: DC offset and IQ (gain and phase) imbalance, estimated blindly.

Vehicles and receiver noise are circular signals: their I and Q have equal power and no correlation.
The mixer's gain/phase error breaks that and puts a mirror image of every vehicle at the opposite
Doppler frequency. The corrector tracks the second moments of I and Q with an exponential memory and
restores circularity by Gram-Schmidt: Q' = (Q - rho I) * k. The moments are measured on a high-passed
copy, because clutter below the speed band is not circular (a vibrating mount shows at +-f with
locked phases) and would bias them; the imbalance itself is frequency independent. The DC offset is
the running mean.
"""

import numpy as np
from scipy.signal import butter, sosfilt, sosfilt_zi

# index of each running moment in the state vector
_MEAN_I, _MEAN_Q, _P_II, _P_QQ, _P_IQ = range(5)


class IQCorrector:
    """Streaming DC and IQ-imbalance removal.

    `time_constant_samples` sets the estimators' memory; moments are taken above `highpass_hz`.
    """

    def __init__(self, time_constant_samples: float, sample_rate: float, highpass_hz: float) -> None:
        if time_constant_samples <= 0:
            raise ValueError("time constant must be positive")
        self._tau = float(time_constant_samples)
        self._sos = butter(4, highpass_hz, btype="highpass", fs=sample_rate, output="sos")
        self._filter_state: np.ndarray | None = None
        self._moments: np.ndarray | None = None

    @property
    def moments(self) -> np.ndarray | None:
        """Current estimates: mean I, mean Q, and E[I^2], E[Q^2], E[IQ] above the high-pass."""
        return None if self._moments is None else self._moments.copy()

    def _block_moments(self, i: np.ndarray, q: np.ndarray) -> np.ndarray:
        channels = np.vstack((i, q))
        if self._filter_state is None:
            initial = sosfilt_zi(self._sos)  # start as if the first sample had lasted for ever
            self._filter_state = initial[:, None, :] * channels[:, 0][None, :, None]
        high, self._filter_state = sosfilt(self._sos, channels, axis=-1, zi=self._filter_state)
        hi, hq = high
        size = i.size
        return np.array([i.mean(), q.mean(), hi @ hi / size, hq @ hq / size, hi @ hq / size])

    def __call__(self, iq: np.ndarray) -> np.ndarray:
        if iq.size == 0:
            return np.zeros(0, dtype=np.complex64)
        i = iq.real.astype(np.float64)
        q = iq.imag.astype(np.float64)
        block = self._block_moments(i, q)
        if self._moments is None:
            self._moments = block
        else:
            self._moments += -np.expm1(-iq.size / self._tau) * (block - self._moments)
        m = self._moments
        i_out = i - m[_MEAN_I]
        q_out = q - m[_MEAN_Q]
        p_ii = m[_P_II]
        if p_ii > 0:
            rho = m[_P_IQ] / p_ii
            residual = m[_P_QQ] - rho * m[_P_IQ]
            if residual > 0:
                q_out = (q_out - rho * i_out) * np.sqrt(p_ii / residual)
        out = np.empty(iq.size, dtype=np.complex64)
        out.real = i_out
        out.imag = q_out
        return out
