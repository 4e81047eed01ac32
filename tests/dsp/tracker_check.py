"""Executed ON MicroPython by tests/dsp/test_tracker.py (not collected by pytest).

Reads /input.json (frames of detections), runs the portable tracker, prints `RESULT <json>`.
"""

import json

from speedledger.edge.core.tracker import Detection, PassTracker

with open("/input.json") as handle:
    frames = json.load(handle)
tracker = PassTracker()
passes = []
for t_ms, detections in frames:
    passes.extend(tracker.update(t_ms, [Detection(speed, snr) for speed, snr in detections]))
passes.extend(tracker.flush())
print(
    "RESULT "
    + json.dumps(
        [[p.t_ms, round(p.speed_kmh, 4), p.direction, round(p.snr_db, 4), p.frames, p.invalid] for p in passes]
    )
)
