"""Real-time factor of the Doppler DSP on one core, against a plain numpy FFT pass over the same data.

    .venv/bin/python bench/dsp_bench.py [--seconds 60] [--sample-rate 48000]

Real-time factor (RTF) = seconds of IQ processed per second of CPU. The baseline frames the same
samples with the same frame size and hop and runs numpy's FFT on them, nothing else: the ratio
says what the whole chain (IQ correction, window, CFAR, interpolation, tracking) costs on top of
the bare transform.
"""

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_variable] = "1"  # one core, before numpy loads

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

from speedledger.edge.dsp import DopplerProcessor, VehiclePass  # noqa: E402
from speedledger.simulator.iq import Clutter, Scene, Vehicle, synthesise  # noqa: E402
from speedledger.simulator.scenes import realistic_front_end  # noqa: E402


def traffic(seconds: float, sample_rate: float, rng: np.random.Generator) -> np.ndarray:
    """A vehicle every 1.5 s on average, 30-200 km/h, both directions, 16-bit front end."""
    count = max(1, int(seconds / 1.5))
    vehicles = tuple(
        Vehicle(
            float(rng.uniform(30, 200)),
            float(rng.uniform(0.5, seconds - 0.5)),
            approaching=bool(rng.integers(0, 2)),
            snr_db=float(rng.uniform(-3, 25)),
        )
        for _ in range(count)
    )
    scene = Scene(sample_rate, seconds, vehicles, angle_deg=20.0, clutter=Clutter(), front_end=realistic_front_end(rng))
    return synthesise(scene, rng).astype(np.complex64)


def best_cpu_seconds(run: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the synthetic recording")
    parser.add_argument("--sample-rate", type=float, default=48_000.0)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()

    iq = traffic(args.seconds, args.sample_rate, np.random.default_rng(2026))
    probe = DopplerProcessor(args.sample_rate, angle_deg=20.0)
    size, hop = probe.frame_size, probe.hop
    chunk = int(args.sample_rate)  # one second a feed, as a live agent would

    def dsp() -> list[VehiclePass]:
        processor = DopplerProcessor(args.sample_rate, angle_deg=20.0)
        return processor.run(iq, chunk_samples=chunk)

    def baseline() -> object:
        spectra = []
        for start in range(0, iq.size, chunk):
            block = iq[max(0, start - size + hop) : start + chunk]
            if block.size >= size:
                spectra.append(np.abs(np.fft.fft(sliding_window_view(block, size)[::hop], axis=1)))
        return spectra

    passes = dsp()
    dsp_cpu = best_cpu_seconds(dsp, args.repeats)
    base_cpu = best_cpu_seconds(baseline, args.repeats)
    dsp_rtf = args.seconds / dsp_cpu
    base_rtf = args.seconds / base_cpu
    print(f"IQ: {args.seconds:g} s at {args.sample_rate:g} Hz, frames of {size} samples every {hop} (one core)")
    valid = sum(1 for p in passes if p.valid)
    print(f"passes: {valid} valid, {len(passes) - valid} invalidated (vehicles sharing the beam)")
    print(f"baseline numpy FFT pass : {base_cpu:7.3f} s CPU  RTF {base_rtf:8.1f}")
    print(f"speedledger DSP chain   : {dsp_cpu:7.3f} s CPU  RTF {dsp_rtf:8.1f}")
    print(f"ratio DSP / baseline RTF: {dsp_rtf / base_rtf:.2f} (full chain = {base_rtf / dsp_rtf:.1f}x the bare FFT)")


if __name__ == "__main__":
    main()
