"""Vehicle-pass tracker: groups per-frame Doppler detections into one speed per vehicle.

Portable: runs unchanged on MicroPython (no numpy, no dataclasses, no typing at run time).

The DSP hands over, for every FFT frame, the spectral peaks it detected as signed speeds along the
road (positive = approaching) with their narrowband SNR. The tracker links them into tracks, closes
a track when its vehicle has left the beam, and turns each closed track into one `VehiclePass`.

Metrology rules (OIML R91, French and German practice: never attribute a speed to the wrong vehicle):
- a pass needs `min_frames` supporting frames and a steady speed (first and second half agree; through
  a real beam, beyond the fall in speed the installation explains: `TrackerConfig.beam_drift`), and
  through a real beam it must be seen rising and falling at both ends (not only its far side);
- a pass whose frames wander around a straight-line fit (through a real beam, a parabola over each
  quarter second), or many of whose frames lie off its median speed (through a real beam, their
  neighbours'), holds two vehicles closer in speed than one FFT bin: it is invalidated;
- a pass whose SNR shows two humps is two vehicles in a row at one speed: the pass time would fall
  between them, so it is invalidated;
- what is not a vehicle (clutter, interferers, the lines the DSP notched, mirror images, satellites)
  and which vehicles shared the beam are the rejection rules in `rejection` (this module's companion).
See docs/dsp.md for the thresholds and the reasoning.
"""

import math

from speedledger.edge.core.rejection import (
    SHARED_BEAM,
    UNRESOLVED,
    disturbed,
    has_two_humps,
    is_artefact,
    nature,
    rise_fall_ms,
    shared_beam,
)

APPROACHING = "approaching"
RECEDING = "receding"
# Through a real beam the frames' wander is measured around a parabola over each this long a piece of
# the pass: two vehicles beating within a bin wander faster than that, the turning line of sight slower.
WANDER_PIECE_MS = 250
# Through a real beam a frame is an outlier when it lies off the median of this many frames on either
# side of it (the speed drifts through the pass, so the whole pass's median is no reference).
OUTLIER_NEIGHBOURS = 12

# Why a pass was invalidated (VehiclePass.invalid); None when valid. UNRESOLVED and SHARED_BEAM
# (and CLUTTER, INTERFERER: why a track is not a vehicle) come with the rules in `rejection`.
UNSTEADY = "speed_unsteady"  # the speed changed within the pass
INCOMPLETE = "incomplete_pass"  # the stream started or ended while it was near the beam centre


class Detection:
    """One spectral peak in one frame: signed speed along the road (+ approaching) and its SNR."""

    def __init__(self, speed_kmh: float, snr_db: float) -> None:
        self.speed_kmh = speed_kmh
        self.snr_db = snr_db

    def __repr__(self) -> str:
        return f"Detection({self.speed_kmh:.2f} km/h, {self.snr_db:.1f} dB)"


class VehiclePass:
    """One vehicle's measurement: speed (km/h, cosine-corrected, > 0), direction, SNR and support.

    `t_ms` is the SNR-weighted centre of the pass (the vehicle at the beam centre), in ms since the
    start of the stream; `start_ms`/`end_ms` bound its detections. `invalid` holds the reason when
    the measurement must not be used, None when it is valid.
    """

    def __init__(
        self,
        t_ms: int,
        speed_kmh: float,
        direction: str,
        snr_db: float,
        frames: int,
        start_ms: int,
        end_ms: int,
        invalid: str | None = None,
    ) -> None:
        self.t_ms = t_ms
        self.speed_kmh = speed_kmh
        self.direction = direction
        self.snr_db = snr_db
        self.frames = frames
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.invalid = invalid

    @property
    def valid(self) -> bool:
        return self.invalid is None

    def as_measurement(self) -> dict:
        """The `edge measure --json` object (CONTRACT §4), keys in contract order."""
        return {
            "t_ms": self.t_ms,
            "speed_kmh": round(self.speed_kmh, 2),
            "direction": self.direction,
            "snr_db": round(self.snr_db, 1),
            "frames": self.frames,
        }

    def __repr__(self) -> str:
        state = "valid" if self.invalid is None else "invalid: " + self.invalid
        return (
            f"VehiclePass(t={self.t_ms} ms, {self.speed_kmh:.2f} km/h {self.direction}, "
            f"{self.snr_db:.1f} dB, {self.frames} frames, {state})"
        )


class TrackerConfig:
    """Tracker thresholds. Speeds in km/h along the road, times in ms, levels in dB."""

    def __init__(
        self,
        min_frames: int = 5,
        max_gap_ms: int = 100,
        gate_kmh: float = 1.5,
        gate_rel: float = 0.015,
        outlier_kmh: float = 0.5,
        steady_kmh: float = 1.0,
        steady_rel: float = 0.01,
        min_separation_kmh: float = 3.0,
        dominance_db: float = 6.0,
        image_db: float = 15.0,
        satellite_db: float = 10.0,
        min_speed_kmh: float = 0.0,
        same_speed_kmh: float = 0.5,
        dip_db: float = 10.0,
        max_outliers: float = 0.2,
        max_scatter_kmh: float = 0.08,
        min_footprint_m: float = 1.0,
        max_footprint_m: float = 25.0,
        max_visible_m: float = 300.0,
        max_peak_range_m: float = 60.0,
        rise_fall_db: float = 6.0,
        edge_rise_db: float | None = None,
        level_noise_db: float = 1.5,
        beam_drift: float = 0.0,
    ) -> None:
        self.min_frames = min_frames  # supporting frames a vehicle needs
        self.max_gap_ms = max_gap_ms  # a track closes after this long without a detection
        self.gate_kmh = gate_kmh  # association gate: max(gate_kmh, gate_rel * speed)
        self.gate_rel = gate_rel
        self.outlier_kmh = outlier_kmh  # frames further than max(this, 4 sigma) from the median are dropped
        self.steady_kmh = steady_kmh  # halves of a pass must agree within max(steady_kmh, steady_rel * speed)
        self.steady_rel = steady_rel
        self.min_separation_kmh = min_separation_kmh  # two overlapping vehicles closer than this: unresolved
        self.dominance_db = dominance_db  # a vehicle must lead any other by this much at its own peak
        self.image_db = image_db  # a mirror track this much weaker is an IQ-imbalance image
        self.satellite_db = satellite_db  # an unsteady track this much weaker is micro-Doppler/clutter
        # Slower tracks are never reported and never compete with vehicles (vibration, fans, people),
        # but their micro-Doppler satellites above this speed are still recognised as theirs.
        self.min_speed_kmh = min_speed_kmh
        self.same_speed_kmh = same_speed_kmh  # tracks closer than this in speed are one vehicle's fragments
        self.dip_db = dip_db  # a pass whose SNR dips this far between two humps holds two vehicles
        self.max_outliers = max_outliers  # a track with more frames off its median speed holds two vehicles
        self.max_scatter_kmh = max_scatter_kmh  # per-frame wander (around a linear fit) of one vehicle
        # The beam's half-power footprint along the road lies between these in every supported
        # installation. A vehicle covers at least `min_footprint_m` of road while within `rise_fall_db`
        # of its peak SNR (anything shorter-lived is clutter), and the two-way beam pattern makes its
        # level fall by at least 12 (d / max_footprint_m)^2 dB d metres from its peak (less
        # `level_noise_db` for the noise of the level estimates); a constant tone does not fall.
        self.min_footprint_m = min_footprint_m
        self.max_footprint_m = max_footprint_m
        self.rise_fall_db = rise_fall_db
        # When set, a pass detected from the stream's first frame (or until its last) must rise from
        # (fall back to) at least this far below its peak there, or it is INCOMPLETE: the stream cut
        # into its main lobe. For front ends whose levels follow the beam (the DSP sets it).
        self.edge_rise_db = edge_rise_db
        self.level_noise_db = level_noise_db
        self.max_visible_m = max_visible_m  # no vehicle is seen over a longer stretch of road: an interferer
        self.max_peak_range_m = max_peak_range_m  # no vehicle's level peaks farther from the radar
        # Through a real beam the line of sight turns as the vehicle crosses it, so its cosine-corrected
        # speed falls steadily through the pass (approaching or receding: the angle to the road grows
        # for the one, shrinks for the other, but the signed speed falls for both), by up to about
        # tan(angle) x beamwidth of its speed. `beam_drift` is that fraction (0 for a constant angle;
        # the DSP sets it from the installation): the halves of a pass may differ by that much in that
        # direction only, and the wander of its frames is measured around a parabola, not a line.
        self.beam_drift = beam_drift

    def max_dwell_ms(self, speed_kmh: float) -> float:
        """The longest any vehicle at this speed can stay in the beam."""
        return 3600.0 * self.max_visible_m / max(abs(speed_kmh), 1e-6)

    def min_fall_db(self, metres: float) -> float:
        """How far, at least, a vehicle's level falls `metres` away from its peak: by the beam pattern
        near the peak, and at least as the radar equation's R^-4 farther out (a beam along the road,
        at a small angle, falls no faster than that), less the noise of the level estimates."""
        beam = 12.04 * (metres / self.max_footprint_m) ** 2
        radar = 40.0 * math.log10(1.0 + metres / self.max_peak_range_m)
        return min(beam, radar) - self.level_noise_db

    def min_change_db(self, metres: float) -> float:
        """How much, at least, a vehicle's level changes over any `metres` of road it covers: it rises
        and falls about its peak by the beam pattern, and even far out along a beam at a small angle,
        where the pattern is flat, it grows as R^-4 as it approaches from `max_visible_m` (noise not
        included)."""
        if metres >= self.max_visible_m:
            return math.inf
        beam = 12.04 * (metres / 2 / self.max_footprint_m) ** 2
        radar = 40.0 * math.log10(self.max_visible_m / (self.max_visible_m - metres))
        return min(beam, radar)

    def gate(self, speed_kmh: float) -> float:
        return max(self.gate_kmh, self.gate_rel * abs(speed_kmh))

    def steady_tolerance(self, speed_kmh: float) -> float:
        return max(self.steady_kmh, self.steady_rel * abs(speed_kmh))

    def is_steady(self, first_kmh: float, second_kmh: float) -> bool:
        """Whether a pass whose halves read these signed speeds kept one speed, the beam's drift aside."""
        tolerance = self.steady_tolerance(first_kmh)
        change = second_kmh - first_kmh
        return -tolerance - self.beam_drift * abs(first_kmh) <= change <= tolerance


def _median(values: list) -> float:
    ordered = sorted(values)
    n = len(ordered)
    middle = n // 2
    return ordered[middle] if n % 2 else 0.5 * (ordered[middle - 1] + ordered[middle])


def _running_median(values: list, neighbours: int) -> list:
    """Each value's median with up to `neighbours` neighbours on either side, as many on each (so a
    steady drift leaves no lag, at the ends too)."""
    last = len(values) - 1
    medians = []
    for i in range(len(values)):
        k = min(neighbours, i, last - i)
        medians.append(_median(values[i - k : i + k + 1]))
    return medians


def _weighted_mean(values: list, weights: list) -> float:
    total = 0.0
    weight_sum = 0.0
    for value, weight in zip(values, weights):  # noqa: B905 (MicroPython's zip has no strict)
        total += value * weight
        weight_sum += weight
    return total / weight_sum


def _wander(times: list, speeds: list, weights: list, bent: bool) -> float:
    """Weighted RMS of the speeds around their fit over time: one straight line, or, when `bent` (a
    line of sight turning through a real beam bends the speed curve, sharply near the radar), a
    parabola over each `WANDER_PIECE_MS` of the pass.

    A steady or steadily accelerating vehicle leaves only measurement noise; two vehicles closer in
    speed than one FFT bin beat against each other and make the peak wander.
    """
    if not bent:
        return math.sqrt(_squared_residuals(times, speeds, weights, 2) / sum(weights))
    total = 0.0
    start = 0
    while start < len(times):
        end = start
        while end < len(times) and times[end] - times[start] < WANDER_PIECE_MS:
            end += 1
        total += _squared_residuals(times[start:end], speeds[start:end], weights[start:end], 3)
        start = end
    return math.sqrt(total / sum(weights))


def _squared_residuals(times: list, speeds: list, weights: list, size: int) -> float:
    """Weighted sum of the squared residuals of the speeds around their weighted least-squares
    polynomial fit over time with `size` coefficients (2: a line, 3: a parabola)."""
    if len(times) <= size:  # the polynomial goes through every point
        return 0.0
    mean_t = _weighted_mean(times, weights)
    xs = [(t - mean_t) / 1000.0 for t in times]
    powers = [sum(w * x**k for x, w in zip(xs, weights)) for k in range(5)]  # noqa: B905
    moments = [sum(w * v * x**k for x, v, w in zip(xs, speeds, weights)) for k in range(3)]  # noqa: B905
    matrix = [[powers[row + col] for col in range(size)] + [moments[row]] for row in range(size)]
    coefficients = _solve(matrix)
    if coefficients is None:  # every frame at one time: nothing to fit
        coefficients = [_weighted_mean(speeds, weights)] + [0.0] * (size - 1)
    return sum(
        w * (v - sum(c * x**k for k, c in enumerate(coefficients))) ** 2
        for x, v, w in zip(xs, speeds, weights)  # noqa: B905
    )


def _solve(augmented: list) -> list | None:
    """The solution of a small linear system given as its augmented matrix (Gauss-Jordan with
    partial pivoting), or None when it is singular."""
    size = len(augmented)
    rows = [list(row) for row in augmented]
    for col in range(size):
        pivot = max(range(col, size), key=lambda r: abs(rows[r][col]))
        if abs(rows[pivot][col]) < 1e-12:
            return None
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(size):
            if r != col:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col])]  # noqa: B905
    return [rows[r][size] / rows[r][r] for r in range(size)]


class _Track:
    """Detections linked frame to frame at one speed."""

    def __init__(self, t_ms: int, detection: Detection) -> None:
        self.times = [t_ms]
        self.speeds = [detection.speed_kmh]
        self.snrs = [detection.snr_db]
        self.interferer = False  # the DSP found it to be a persistent spectral line

    @property
    def start_ms(self) -> int:
        return self.times[0]

    @property
    def last_ms(self) -> int:
        return self.times[-1]

    def reference_speed(self, drifting: bool) -> float:
        """The speed the next detection is expected at: the median of the last frames, carried on
        along their trend when the speed may drift (through a real beam)."""
        recent = self.speeds[-5:]
        if not drifting or len(recent) < 5:
            return _median(recent)
        steps = [recent[i + 1] - recent[i] for i in range(len(recent) - 1)]
        return _median(recent) + 2.0 * _median(steps)

    def add(self, t_ms: int, detection: Detection) -> None:
        self.times.append(t_ms)
        self.speeds.append(detection.speed_kmh)
        self.snrs.append(detection.snr_db)


class _Candidate:
    """A closed track summarised: robust speed, steadiness, peak, extent."""

    def __init__(self, track: _Track, config: TrackerConfig) -> None:
        if config.beam_drift > 0:
            reference = _running_median(track.speeds, OUTLIER_NEIGHBOURS)
        else:
            reference = [_median(track.speeds)] * len(track.speeds)
        deviations = [abs(v - r) for v, r in zip(track.speeds, reference)]  # noqa: B905
        limit = max(config.outlier_kmh, 4.0 * 1.4826 * _median(deviations))
        kept = [i for i, d in enumerate(deviations) if d <= limit]
        self.outliers = len(track.speeds) - len(kept)
        self.times = [track.times[i] for i in kept]
        self.speeds = [track.speeds[i] for i in kept]
        self.snrs = [track.snrs[i] for i in kept]
        weights = [math.pow(10.0, 0.1 * s) for s in self.snrs]
        self.speed = _weighted_mean(self.speeds, weights)
        self.t_ms = round(_weighted_mean(self.times, weights))
        self.peak_snr = max(self.snrs)
        strong = [i for i, s in enumerate(self.snrs) if s >= self.peak_snr - 10.0]
        scatter = _wander(
            [self.times[i] for i in strong],
            [self.speeds[i] for i in strong],
            [weights[i] for i in strong],
            config.beam_drift > 0,
        )
        self.wanders = scatter > config.max_scatter_kmh
        self.start_ms = track.start_ms
        self.end_ms = track.last_ms
        self.interferer = track.interferer
        self.two_humps = has_two_humps(self.snrs, config.dip_db)
        self.rise_fall_ms = rise_fall_ms(self.times, self.snrs, config.rise_fall_db)
        top = _median(sorted(self.snrs)[-3:])  # robust to one lucky frame
        self.rise_db = top - _median(self.snrs[:3])
        self.fall_db = top - _median(self.snrs[-3:])
        half = len(kept) // 2
        if half >= 2:
            first = _weighted_mean(self.speeds[:half], weights[:half])
            second = _weighted_mean(self.speeds[-half:], weights[-half:])
            self.steady = config.is_steady(first, second)
        else:
            self.steady = False

    def overlaps(self, other: "_Candidate", margin_ms: int = 0) -> bool:
        """Whether the two were in the beam together (or within `margin_ms` of each other)."""
        return self.start_ms <= other.end_ms + margin_ms and other.start_ms <= self.end_ms + margin_ms

    def snr_near(self, t_ms: int, window_ms: int) -> float | None:
        """Strongest SNR of this track within `window_ms` of `t_ms`, None if it had no detection there."""
        best = None
        for t, snr in zip(self.times, self.snrs):  # noqa: B905
            if abs(t - t_ms) <= window_ms and (best is None or snr > best):
                best = snr
        return best

    def to_pass(self, invalid: str | None) -> VehiclePass:
        return VehiclePass(
            self.t_ms,
            abs(self.speed),
            APPROACHING if self.speed > 0 else RECEDING,
            self.peak_snr,
            len(self.speeds),
            self.start_ms,
            self.end_ms,
            invalid,
        )


class PassTracker:
    """Feed it each frame's detections with `update`; it returns passes as vehicles leave the beam.

    Passes come out once every track that overlaps them in time has closed, so that the decision
    about a shared beam is made with everything known; call `flush` at the end of a stream.
    """

    def __init__(self, config: TrackerConfig | None = None, keep_rejected: bool = False) -> None:
        self.config = config if config is not None else TrackerConfig()
        self._active: list = []
        self._closed: list = []
        # Tracks judged not to be vehicles (for diagnostics), as passes whose `invalid` says why.
        self.rejected: list | None = [] if keep_rejected else None
        self._first_ms: int | None = None  # the stream's first frame
        self._frame_ms = 0  # the frame spacing
        self._last_ms = 0  # the latest frame

    def update(self, t_ms: int, detections: list) -> list:
        if self._first_ms is None:
            self._first_ms = t_ms
        elif self._frame_ms == 0:
            self._frame_ms = t_ms - self._first_ms
        self._last_ms = t_ms
        self._associate(t_ms, detections)
        self._close(t_ms)
        return self._release(final=False)

    def interferer(self, speed_kmh: float, width_kmh: float) -> None:
        """The DSP found a persistent spectral line at this signed speed and notches `width_kmh` about
        it from now on: the tracks under way there are that line (or lie within its notch), so they
        are rejected as interferers when they close, not judged as vehicles cut off at their peak."""
        for track in self._active:
            if abs(track.reference_speed(False) - speed_kmh) <= width_kmh:
                track.interferer = True

    def flush(self) -> list:
        self._close(None)
        return self._release(final=True)

    def horizon_ms(self) -> int:
        """No pass returned from now on is centred before this: a track still open or waiting is centred
        after its start, and a track yet to begin after the latest frame."""
        horizon = self._last_ms
        for track in self._active + self._closed:
            horizon = min(horizon, track.start_ms)
        return horizon

    def _associate(self, t_ms: int, detections: list) -> None:
        taken = []
        for detection in sorted(detections, key=lambda d: -d.snr_db):
            best = None
            best_distance = 0.0
            for track in self._active:
                if track in taken:
                    continue
                reference = track.reference_speed(self.config.beam_drift > 0)
                distance = abs(detection.speed_kmh - reference)
                if distance <= self.config.gate(reference) and (best is None or distance < best_distance):
                    best = track
                    best_distance = distance
            if best is None:
                best = _Track(t_ms, detection)
                self._active.append(best)
            else:
                best.add(t_ms, detection)
            taken.append(best)

    def _close(self, now_ms: int | None) -> None:
        """Close the tracks silent for longer than the gap at `now_ms` (all of them when None)."""
        still_active = []
        for track in self._active:
            if now_ms is not None and now_ms - track.last_ms <= self.config.max_gap_ms:
                still_active.append(track)
            elif len(track.times) >= self.config.min_frames:
                candidate = _Candidate(track, self.config)
                if len(candidate.speeds) >= self.config.min_frames:
                    self._closed.append(candidate)
        self._active = still_active

    def _release(self, final: bool) -> list:
        """Judge and emit every group of time-overlapping candidates that can no longer grow."""
        passes = []
        for group in self._groups():
            group_end = max(c.end_ms for c in group) + self.config.max_gap_ms
            if not final and any(track.start_ms <= group_end for track in self._active):
                continue
            for candidate in group:
                self._closed.remove(candidate)
            passes.extend(self._judge(group, final))
        passes.sort(key=lambda p: p.t_ms)
        return passes

    def _groups(self) -> list:
        groups: list = []
        for candidate in sorted(self._closed, key=lambda c: c.start_ms):
            if groups and any(candidate.overlaps(member, self.config.max_gap_ms) for member in groups[-1]):
                groups[-1].append(candidate)
            else:
                groups.append([candidate])
        return groups

    def _cut_off(self, candidate: _Candidate, final: bool) -> bool:
        """Whether the stream's start (or, at its end, its end) cut into the pass's main lobe: it was
        detected from the first frames (or until the last) within `edge_rise_db` of its peak, so its
        time at the beam centre is not known.

        Through a real beam (`beam_drift` > 0) a pass must also rise and fall by more than the level
        noise at both ends wherever it lies: near the radar the line of sight turns fastest and the
        Doppler sweeps across several bins within one frame, too fast to detect, so a pass whose
        detections stop while it is still at its peak level has lost its near side, and its speed
        leans to the far side, which reads high."""
        needed = self.config.edge_rise_db
        if needed is None:
            return False
        lost_side = min(candidate.rise_db, candidate.fall_db) <= self.config.level_noise_db
        if self.config.beam_drift > 0 and lost_side:
            return True
        margin = 2 * self._frame_ms
        first = self._first_ms if self._first_ms is not None else candidate.start_ms
        if candidate.start_ms <= first + margin and candidate.rise_db < needed:
            return True
        return final and candidate.end_ms >= self._last_ms - margin and candidate.fall_db < needed

    def _judge(self, group: list, final: bool) -> list:
        config = self.config
        natures = [nature(c, config) for c in group]
        # Artefacts are judged against vehicle-like tracks only (slow ones included, whose wheels
        # reach twice their speed): a vehicle is nobody's satellite because an interferer or a
        # raindrop outshone it.
        references = [c for c, why in zip(group, natures) if why is None]  # noqa: B905
        vehicles = []
        others = []
        for c, why in zip(group, natures):  # noqa: B905
            if abs(c.speed) < config.min_speed_kmh or is_artefact(c, references, config):
                continue
            if why is None:
                vehicles.append(c)
                continue
            others.append(c)
            if self.rejected is not None:
                self.rejected.append(c.to_pass(why))
        invalid: dict = {}
        for i, a in enumerate(vehicles):
            if disturbed(a, others, config):
                invalid[i] = UNRESOLVED
            elif not a.steady:
                invalid[i] = UNSTEADY
            elif a.outliers > config.max_outliers * (a.outliers + len(a.speeds)) or a.wanders:
                invalid[i] = UNRESOLVED
            elif a.two_humps:
                invalid[i] = SHARED_BEAM
            elif self._cut_off(a, final):
                invalid[i] = INCOMPLETE
        shared_beam(vehicles, config, invalid)
        return [c.to_pass(invalid.get(i)) for i, c in enumerate(vehicles)]
