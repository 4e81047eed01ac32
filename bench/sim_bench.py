"""The simulator at scale: 100,000 seeded passes through the radar's measurement and decision.

    .venv/bin/python bench/sim_bench.py [--passes 100000] [--dsp-every 100] [--ocr-every 500]

How (the heavy parts are sampled, and this says how):
- The passes come from the scenario traffic model (simulator/traffic.py) over a fleet of radars with
  limits from 50 to 130 km/h: a compliant majority and 20 % speeders, one lane, no platoons.
- DSP: every `--dsp-every`-th pass is synthesised alone (simulator/scenes.single_pass: its speed,
  the radar's angle and rate, its SNR, wheels, clutter, an impaired 16-bit front end) and measured by
  the real DopplerProcessor. Every other pass gets a measurement error drawn from those (bootstrap).
- Every pass then meets the device's decision (SpeedPolicy, the retained-speed rule central applies
  too): a false violation is a pass at or under the limit that would be fined.
- OCR: every `--ocr-every`-th pass's camera frame is rendered (simulator/plates.py, the readable
  ones as in `sim run`) and read by the Tesseract reader: exact reads and confident misreads.
- Passes per CPU-second: what one pass costs the whole path on one core (synthesis + DSP of its IQ,
  plus rendering + OCR for the share that are violations), from the samples.
- Fleet size in real time: one radar's minute of traffic (600 vehicles/h, 24 kHz) synthesised in
  blocks and measured, as `sim run` does; one core keeps up with (stream seconds / CPU seconds)
  radars. The agent's own share (DSP only) is printed beside it.
"""

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_variable] = "1"  # one core, before numpy loads

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from speedledger.edge.core.violation import SpeedPolicy, speed_ckmh  # noqa: E402
from speedledger.edge.dsp import DopplerProcessor  # noqa: E402
from speedledger.edge.plates.tesseract import TesseractPlateReader  # noqa: E402
from speedledger.simulator.fleet import radar_scene, radar_seed  # noqa: E402
from speedledger.simulator.iq import synthesise, synthesise_blocks  # noqa: E402
from speedledger.simulator.plates import render_frame  # noqa: E402
from speedledger.simulator.scenario import Radar, Registry, Scenario, Traffic  # noqa: E402
from speedledger.simulator.scenes import single_pass  # noqa: E402
from speedledger.simulator.traffic import Pass, generate  # noqa: E402

LIMITS = (50, 70, 80, 90, 110, 130)
TRAFFIC = Traffic(vehicles_per_hour=600, speeder_share=0.2, platoon_share=0.0, overtaking_share=0.0)


def fleet(passes: int) -> Scenario:
    """Enough radars and time for about `passes` passes."""
    radars = tuple(
        Radar(
            f"BENCH-{index:03d}",
            f"bench {index}",
            48.0,
            2.0,
            LIMITS[index % len(LIMITS)],
            angle_deg=15 + index % 3 * 5,
            traffic=TRAFFIC,
        )
        for index in range(50)
    )
    duration_s = passes / len(radars) / TRAFFIC.vehicles_per_hour * 3600 * 1.01
    return Scenario("bench", "", 2026, duration_s, radars, Registry(owners=50, vehicles=500, transfers=0))


def measure(scenario: Scenario, vehicle_pass: Pass, rng: np.random.Generator) -> float | None:
    """The DopplerProcessor's speed for this pass alone, None when it reports no valid pass."""
    radar = scenario.radar(vehicle_pass.radar_id)
    scene = single_pass(rng, vehicle_pass.speed_kmh, radar.angle_deg, vehicle_pass.snr_db, radar.sample_rate)
    iq = synthesise(scene, rng)
    found = [p for p in DopplerProcessor(radar.sample_rate, angle_deg=radar.angle_deg).run(iq) if p.valid]
    return found[0].speed_kmh if len(found) == 1 else None


def realtime_fleet() -> tuple[float, float]:
    """(radars one core simulates and measures in real time, radars one core measures: the DSP alone)."""
    radar = Radar("RT", "rt", 48.0, 2.0, 90, traffic=TRAFFIC)
    scenario = Scenario("rt", "", 7, 60.0, (radar,))
    passes = list(generate(scenario).passes)
    processor = DopplerProcessor(radar.sample_rate, angle_deg=radar.angle_deg)
    synthesis = dsp = 0.0
    blocks = synthesise_blocks(radar_scene(scenario, radar, passes), radar_seed(scenario, radar), 0.1)
    while True:
        start = time.process_time()
        block = next(blocks, None)
        synthesis += time.process_time() - start
        if block is None:
            break
        start = time.process_time()
        processor.feed(block.astype(np.complex64))
        dsp += time.process_time() - start
    return scenario.duration_s / (synthesis + dsp), scenario.duration_s / dsp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=100_000)
    parser.add_argument("--dsp-every", type=int, default=100)
    parser.add_argument("--ocr-every", type=int, default=500)
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    scenario = fleet(args.passes)
    start = time.process_time()
    passes = generate(scenario).passes[: args.passes]
    traffic_cpu = time.process_time() - start
    print(f"{len(passes)} passes at {len(scenario.radars)} radars ({traffic_cpu:.1f} CPU s to generate)")

    start = time.process_time()
    sampled = passes[:: args.dsp_every]
    measured = [measure(scenario, p, rng) for p in sampled]
    dsp_cpu = (time.process_time() - start) / len(sampled)
    errors = np.array([m - p.speed_kmh for p, m in zip(sampled, measured, strict=True) if m is not None])
    detected = len(errors) / len(sampled)
    print(f"DSP on every {args.dsp_every}th pass: {len(sampled)} passes, {detected:.1%} measured alone, "
          f"{dsp_cpu * 1000:.1f} ms CPU each (synthesis + DSP)")  # fmt: skip

    policies = {limit: SpeedPolicy(limit) for limit in LIMITS}
    drawn = rng.choice(errors, size=len(passes))
    false_violations = violations = 0
    for vehicle_pass, error in zip(passes, drawn, strict=True):
        limit = scenario.radar(vehicle_pass.radar_id).speed_limit_kmh
        fined = policies[limit].is_violation(speed_ckmh(vehicle_pass.speed_kmh + float(error)))
        violations += fined
        false_violations += fined and vehicle_pass.speed_kmh <= limit
    compliant = sum(1 for p in passes if p.speed_kmh <= scenario.radar(p.radar_id).speed_limit_kmh)

    start = time.process_time()
    ocr_sample = [p for p in passes[:: args.ocr_every] if p.readable]
    exact = misread = 0
    with TesseractPlateReader() as reader:
        for vehicle_pass in ocr_sample:
            read = reader.read(render_frame(vehicle_pass.plate, rng, char_height_px=48).image_bgr).plate
            exact += read == vehicle_pass.plate
            misread += bool(read) and read != vehicle_pass.plate
    ocr_cpu = (time.process_time() - start) / len(ocr_sample)

    absolute = np.abs(errors)
    print(f"compliant passes: {compliant} ({compliant / len(passes):.1%}); violations: {violations}")
    print(f"FALSE VIOLATIONS: {false_violations}")
    print("speed error |measured - true| km/h: " + ", ".join(
        f"p{q} {np.percentile(absolute, q):.4f}" for q in (50, 95, 99)) + f", max {absolute.max():.4f}")  # fmt: skip
    print(f"OCR on every {args.ocr_every}th readable pass: {len(ocr_sample)} frames, {exact / len(ocr_sample):.1%} "
          f"exact, {misread} confident misreads, {ocr_cpu * 1000:.1f} ms CPU each (render + read)")  # fmt: skip
    per_pass = dsp_cpu + violations / len(passes) * ocr_cpu
    print(f"passes per CPU-second (synthesis + DSP, OCR for violations): {1 / per_pass:.1f}")
    simulated, measured_only = realtime_fleet()
    print(f"fleet one core simulates in real time (600 vehicles/h, 24 kHz): {simulated:.0f} radars "
          f"(the agents' DSP alone: {measured_only:.0f} radars)")  # fmt: skip


if __name__ == "__main__":
    main()
