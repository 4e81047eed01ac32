"""The tracker's rejection rules: what is not a vehicle, and which vehicles shared the beam.

Portable: runs unchanged on MicroPython (no numpy, no dataclasses, no typing at run time).

`tracker.PassTracker` summarises each closed track as a candidate (robust speed, SNR profile, extent)
and asks these rules, in this order:
- `nature`: a vehicle rises and falls over a dwell that the beam geometry bounds. A track whose rise
  and fall covers less road than the narrowest beam footprint is clutter (rain, insects, debris); one
  that lasts longer than any vehicle at its speed can stay in the beam, or whose level never falls,
  is an interferer (a constant tone). Neither is a vehicle, so neither shares the beam;
- `is_artefact`: the IQ-imbalance mirror image of a strong track, satellites of a stronger track in the
  same direction (wheel micro-Doppler, clutter: unsteady, or seen only while the stronger one is) and
  weaker fragments at a stronger track's speed never count as vehicles;
- `disturbed`: clutter or an interferer close enough in speed may have pulled a vehicle's peak;
- `shared_beam`: while two vehicles at different speeds overlap in time, both are reported only when
  resolved cleanly: far enough apart in speed, both steady, and each one dominating the beam at its
  own peak (that is when the camera fires); `has_two_humps`: two vehicles in a row at one speed.
See docs/dsp.md for the thresholds and the reasoning.
"""

UNRESOLVED = "unresolved_targets"  # another vehicle at a nearby speed (or an unsteady one) in the beam
SHARED_BEAM = "shared_beam"  # another vehicle was as strong in the beam at this one's peak, or one in a row

# Why a track is not a vehicle at all (PassTracker.rejected).
CLUTTER = "clutter"  # it rose and fell over less road than any beam footprint: rain, debris
INTERFERER = "interferer"  # longer than any vehicle at its speed stays in the beam, or its level never fell

TYPE_CHECKING = False
if TYPE_CHECKING:
    from speedledger.edge.core.tracker import TrackerConfig, _Candidate


def has_two_humps(snrs: list, dip_db: float) -> bool:
    """Whether the SNR falls by `dip_db` after the peak and rises again as much: two vehicles in a row
    at one speed, whose pass time would lie between them."""
    peak = snrs.index(max(snrs))
    for step in (1, -1):
        valley = peak
        index = peak + step
        while 0 <= index < len(snrs):
            if snrs[index] < snrs[valley]:
                valley = index
            elif snrs[index] - snrs[valley] >= dip_db:
                return True
            index += step
    return False


def rise_fall_ms(times: list, snrs: list, within_db: float) -> int:
    """How long the track stayed within `within_db` of its peak SNR around the peak, frame after frame
    (one weak or missing frame allowed): the main lobe of the beam crossing for a vehicle, a single
    scatterer's life for clutter. Chains of short-lived scatterers break at their gaps."""
    peak = snrs.index(max(snrs))
    floor = snrs[peak] - within_db
    hop = min([times[i + 1] - times[i] for i in range(len(times) - 1)] or [0])
    edges = []
    for step in (1, -1):
        edge = peak
        index = peak + step
        while 0 <= index < len(snrs) and abs(times[index] - times[index - step]) <= 2 * hop:
            if snrs[index] >= floor:
                edge = index
            elif not (0 <= index + step < len(snrs) and snrs[index + step] >= floor):
                break
            index += step
        edges.append(edge)
    return times[edges[0]] - times[edges[1]]


def nature(candidate: "_Candidate", config: "TrackerConfig") -> str | None:
    """CLUTTER or INTERFERER when the track cannot be a vehicle crossing the beam, else None."""
    metres_per_ms = abs(candidate.speed) / 3600.0
    duration_ms = candidate.end_ms - candidate.start_ms
    # One end of the track lies at least half its length of road from the peak.
    flat = max(candidate.rise_db, candidate.fall_db) < config.min_fall_db(duration_ms * metres_per_ms / 2)
    if candidate.interferer or flat or duration_ms > config.max_dwell_ms(candidate.speed):
        return INTERFERER
    if candidate.rise_fall_ms * metres_per_ms < config.min_footprint_m:
        return CLUTTER
    return None


def is_artefact(candidate: "_Candidate", references: list, config: "TrackerConfig") -> bool:
    """IQ-imbalance mirror image, or weak unsteady micro-Doppler/clutter beside a stronger vehicle
    (one of `references`, the vehicle-like tracks of its group)."""
    for other in references:
        if other is candidate or not other.overlaps(candidate, config.max_gap_ms):
            continue
        weaker_by = other.peak_snr - candidate.peak_snr
        mirrored = candidate.speed * other.speed < 0 and abs(candidate.speed + other.speed) <= config.gate(other.speed)
        if mirrored and weaker_by >= config.image_db:
            return True
        fragment = abs(candidate.speed - other.speed) <= config.same_speed_kmh
        if fragment and weaker_by > 0:
            return True
        same_side = candidate.speed * other.speed > 0
        inside = other.start_ms <= candidate.start_ms and candidate.end_ms <= other.end_ms
        if same_side and (inside or not candidate.steady) and weaker_by >= config.satellite_db:
            return True
    return False


def disturbed(vehicle: "_Candidate", others: list, config: "TrackerConfig") -> bool:
    """Whether clutter or an interferer (`others`) overlapping the vehicle lay close enough in speed
    to have pulled its spectral peak."""
    return any(vehicle.overlaps(o) and abs(vehicle.speed - o.speed) < config.min_separation_kmh for o in others)


def shared_beam(vehicles: list, config: "TrackerConfig", invalid: dict) -> None:
    """Mark in `invalid` (index in `vehicles` -> reason) the vehicles that shared the beam with another
    at a different speed without being resolved cleanly from it."""
    for i, a in enumerate(vehicles):
        for j in range(i + 1, len(vehicles)):
            b = vehicles[j]
            # Tracks that hand over within a gap are as suspect as overlapping ones: the stronger
            # may have hidden the other inside its main lobe.
            if not a.overlaps(b, config.max_gap_ms) or abs(a.speed - b.speed) <= config.same_speed_kmh:
                continue
            if abs(a.speed - b.speed) < config.min_separation_kmh or not (a.steady and b.steady):
                invalid[i] = invalid[j] = UNRESOLVED
                continue
            window = config.max_gap_ms // 2
            for mine, theirs, index in ((a, b, i), (b, a, j)):
                rival = theirs.snr_near(mine.t_ms, window)
                own = mine.snr_near(mine.t_ms, window)
                if own is None:
                    own = mine.peak_snr
                if rival is not None and rival > own - config.dominance_db:
                    invalid.setdefault(index, SHARED_BEAM)
