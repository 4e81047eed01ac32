"""What a measurement run did not report, and why: invalidated passes, notched interferers, rejected tracks.

`edge measure` prints these on stderr (JSON objects with `--json`), never on stdout, whose lines are
the contract's measurements only.
"""

from collections import Counter
from typing import Any

from speedledger.edge.core.tracker import VehiclePass
from speedledger.edge.dsp.processor import DopplerProcessor


def diagnostics(processor: DopplerProcessor, passes: list[VehiclePass]) -> list[dict[str, Any]]:
    """One record for each invalidated pass and each notched interferer line, then one count of the
    tracks rejected as not being vehicles for each reason (when the processor kept them)."""
    records: list[dict[str, Any]] = [
        {**vehicle_pass.as_measurement(), "invalidated": vehicle_pass.invalid}
        for vehicle_pass in passes
        if not vehicle_pass.valid
    ]
    for line in processor.notch.notched:
        records.append(
            {
                "interferer_hz": round(line.doppler_hz, 1),
                "speed_kmh": round(abs(line.doppler_hz) / processor.hz_per_kmh, 2),
                "level_db": round(line.level_db, 1),
                "start_ms": round(line.start_ms),
                "end_ms": round(line.end_ms),
                "notched_ms": round(line.notched_ms or line.start_ms),
            }
        )
    rejected = Counter(track.invalid for track in processor.tracker.rejected or [])
    records.extend({"rejected": reason, "tracks": count} for reason, count in sorted(rejected.items()))
    return records


def describe(record: dict[str, Any]) -> str:
    """One human-readable line for a `diagnostics` record."""
    if "invalidated" in record:
        return (
            f"invalidated: {record['speed_kmh']:.2f} km/h {record['direction']} at {record['t_ms']} ms "
            f"({record['invalidated']})"
        )
    if "interferer_hz" in record:
        return (
            f"interferer notched: {record['interferer_hz']:.1f} Hz ({record['speed_kmh']:.2f} km/h), "
            f"{record['level_db']:.1f} dB, {record['start_ms']}-{record['end_ms']} ms"
        )
    return f"rejected (not vehicles): {record['tracks']} {record['rejected']} tracks"
