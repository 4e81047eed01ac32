"""Radar positions on a plain SVG (works offline, no tiles): an equirectangular view fitted to the fleet."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from speedledger.central.radars.queries import RadarView

WIDTH = 1000
HEIGHT = 560
MARGIN = 60
#: Smallest area shown (degrees), so one radar, or radars a few metres apart, are not blown up.
MIN_SPAN_DEG = 0.02


@dataclass(frozen=True)
class MapPoint:
    radar: RadarView
    x: float
    y: float


def map_points(radars: Sequence[RadarView]) -> list[MapPoint]:
    """Each radar's position in a WIDTH x HEIGHT box, north up, longitudes shrunk by cos(latitude)."""
    if not radars:
        return []
    middle_lat = sum(radar.latitude for radar in radars) / len(radars)
    shrink = max(math.cos(math.radians(middle_lat)), 0.01)
    xs = [radar.longitude * shrink for radar in radars]
    ys = [radar.latitude for radar in radars]
    span = max(max(xs) - min(xs), max(ys) - min(ys), MIN_SPAN_DEG)
    scale = min(WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN) / span
    center_x, center_y = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    return [
        MapPoint(radar, WIDTH / 2 + (x - center_x) * scale, HEIGHT / 2 - (y - center_y) * scale)
        for radar, x, y in zip(radars, xs, ys, strict=True)
    ]
