"""Spectrogram of an IQ recording in speed units, with the detections and the measured passes."""

from pathlib import Path

import numpy as np

from speedledger.edge.core.tracker import VehiclePass
from speedledger.edge.dsp.processor import DopplerProcessor
from speedledger.edge.dsp.spectral import WINDOW

MAX_COLUMNS = 4000  # longer recordings are drawn with a coarser time step


def _signed(vehicle_pass: VehiclePass) -> float:
    return vehicle_pass.speed_kmh if vehicle_pass.direction == "approaching" else -vehicle_pass.speed_kmh


def plot_measurement(
    iq: np.ndarray, processor: DopplerProcessor, passes: list[VehiclePass], out: str | Path, title: str = ""
) -> None:
    """Write a PNG: power (dB) over time and signed speed (+ approaching), frame detections as dots,
    each pass labelled with its speed; invalid passes in red with the reason; notched interferer
    lines as dashed orange spans; tracks rejected as not vehicles (clutter, interferers) as grey crosses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.signal import spectrogram

    size = processor.frame_size
    step = max(processor.hop, iq.size // MAX_COLUMNS)
    freqs, times, power = spectrogram(
        iq, fs=processor.sample_rate, window=WINDOW, nperseg=size, noverlap=max(0, size - step),
        return_onesided=False, mode="psd",
    )  # fmt: skip
    order = np.argsort(freqs)
    speeds = freqs[order] / processor.hz_per_kmh
    level = 10 * np.log10(power[order] + np.finfo(float).tiny)
    floor = np.median(level)
    figure, axes = plt.subplots(figsize=(12, 6), dpi=100)
    mesh = axes.pcolormesh(times, speeds, level, shading="auto", cmap="viridis", vmin=floor - 5, vmax=floor + 45)
    figure.colorbar(mesh, ax=axes, label="power (dB)")
    if processor.detections:
        axes.scatter(
            [d.t_ms / 1000 for d in processor.detections],
            [d.speed_kmh for d in processor.detections],
            s=2,
            c="white",
            alpha=0.6,
            linewidths=0,
            label="frame detections",
        )
    for line in processor.notch.notched:
        speed = line.doppler_hz / processor.hz_per_kmh
        axes.plot([line.start_ms / 1000, line.end_ms / 1000], [speed, speed], linestyle="--", color="orange")
        axes.annotate(f"interferer {line.level_db:.0f} dB, notched", (line.start_ms / 1000, speed), xytext=(4, -12),
                      textcoords="offset points", color="orange", fontsize=8)  # fmt: skip
    rejected = processor.tracker.rejected or []
    if rejected:
        axes.scatter(
            [track.t_ms / 1000 for track in rejected],
            [_signed(track) for track in rejected],
            s=25, marker="x", c="lightgrey", linewidths=1, label="rejected tracks (clutter, interferers)",
        )  # fmt: skip
    for vehicle_pass in passes:
        signed = _signed(vehicle_pass)
        colour = "lime" if vehicle_pass.valid else "red"
        label = f"{vehicle_pass.speed_kmh:.2f} km/h" + ("" if vehicle_pass.valid else f" ({vehicle_pass.invalid})")
        axes.plot(vehicle_pass.t_ms / 1000, signed, marker="o", markersize=12, fillstyle="none", color=colour)
        axes.annotate(label, (vehicle_pass.t_ms / 1000, signed), xytext=(8, 8), textcoords="offset points",
                      color=colour, fontsize=9)  # fmt: skip
    limit = processor.max_speed_kmh
    axes.set_ylim(-limit, limit)
    axes.axhspan(-processor.config.min_speed_kmh, processor.config.min_speed_kmh, color="grey", alpha=0.3)
    axes.set_xlabel("time (s)")
    axes.set_ylabel("speed along the road (km/h, + approaching)")
    axes.set_title(title or "Doppler spectrogram")
    figure.tight_layout()
    figure.savefig(str(out))
    plt.close(figure)
