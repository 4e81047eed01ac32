"""Evidence in the image that a plate's characters are whole: any doubt about one voids the plate.

Tesseract reads the remains of a covered character as whatever valid character they look like (the
left stem of an `R` under mud came back as a confident `Q`). So before a line is read, every glyph
of the rectified line is checked against what clean printing looks like. Plate characters are one
ink on one ground, all the same height on one baseline, drawn with one stroke width, set at an even
spacing; dirt, stickers, paint or a tow bar break one of these:
- the glyph's top or bottom leaves the line's common top or baseline (a patch spilling over it, or
  covering the character's top or bottom);
- a patch darker than the ink's gap to the ground merged into the glyph: it holds a blob much
  thicker than the line's strokes, or fills too much of its box;
- part of the glyph is gone: a gap to its neighbour well wider than the line's usual gap;
- the ground around the glyph is not the plate's ground: a patch lighter than the ink but darker
  than the plate (dust, a sticker, paint) lies in its cell;
- the glyph's ink is not the line's ink: a grey patch (mud, dust) merged into it.
Each group must also hold exactly its number of glyphs. Thresholds are in character heights and
were set on clean frames across the acceptance envelope so that they cost almost no clean read.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

MAX_ALIGNMENT = 0.05  # top and bottom within this of the line's median, in character heights
MAX_STROKE = 1.6  # thickest part of a glyph at most this times the line's median
MAX_FILL = 0.8  # ink over the glyph's box
MAX_EXTRA_GAP = 0.12  # a gap at most this wider than the line's median gap, in character heights
MIN_GROUND = 0.92  # the darkest 5 % of a glyph's ground, between ink (0) and the plate's ground (1)
MAX_LIGHTER_INK = 0.12  # a glyph's lightest ink (90th percentile) at most this above the line's usual
_NEAR_INK_PX = 7  # ground pixels closer to the ink than this belong to its blurred edge
_CELL_REACH = 0.3  # a glyph's cell reaches this far beyond its ink on either side, in character heights
_DASH_HALF_HEIGHT = 0.25  # a dash lies within this of the line's middle, in character heights


def suspect_characters(
    grey: np.ndarray, ink: np.ndarray, groups: tuple[tuple[tuple[int, int], ...], ...], lengths: tuple[int, ...]
) -> list[str]:
    """Why the line's characters cannot all be trusted (one reason per finding; empty when whole).

    `grey` is the rectified line, `ink` its glyph mask, `groups` the x span of each glyph group by
    group, `lengths` the format's group lengths.
    """
    if tuple(len(group) for group in groups) != lengths:
        return ["a group does not hold exactly its characters"]
    spans = [span for group in groups for span in group]
    rows = [np.flatnonzero(ink[:, left:right].any(axis=1)) for left, right in spans]
    if any(row.size == 0 for row in rows):
        return ["a glyph without ink"]
    tops = np.array([row[0] for row in rows], dtype=float)
    bottoms = np.array([row[-1] + 1 for row in rows], dtype=float)
    height = float(np.median(bottoms - tops))
    strokes = np.array([_thickest(ink[top:bottom, left:right]) for (left, right), top, bottom in _boxes(spans, rows)])
    reasons = []
    for index, ((left, right), top, bottom) in enumerate(_boxes(spans, rows)):
        if max(abs(top - np.median(tops)), abs(bottom - np.median(bottoms))) > MAX_ALIGNMENT * height:
            reasons.append(f"character {index + 1} leaves the line's top or baseline")
        if strokes[index] > MAX_STROKE * float(np.median(strokes)):
            reasons.append(f"character {index + 1} holds a blob thicker than the strokes")
        if ink[top:bottom, left:right].mean() > MAX_FILL:
            reasons.append(f"character {index + 1} fills its box")
    reasons += _gaps(groups, height)
    reasons += _foreign_ground(grey, ink, groups, int(np.median(tops)), int(np.median(bottoms)))
    return reasons


def _boxes(spans: list[tuple[int, int]], rows: list[np.ndarray]) -> list[tuple[tuple[int, int], int, int]]:
    return [(span, int(row[0]), int(row[-1]) + 1) for span, row in zip(spans, rows, strict=True)]


def _thickest(glyph: np.ndarray) -> float:
    """Radius of the largest disc that fits in the glyph's ink (half its thickest stroke or blob)."""
    distance = cv2.distanceTransform(np.pad(glyph, 1).astype(np.uint8), cv2.DIST_L2, 5)
    return float(distance.max())


def _gaps(groups: tuple[tuple[tuple[int, int], ...], ...], height: float) -> list[str]:
    gaps = [later[0] - earlier[1] for group in groups for earlier, later in itertools.pairwise(group)]
    if not gaps:
        return []
    usual = float(np.median(gaps))
    return [f"a character is cut short (gap {gap} px)" for gap in gaps if gap > usual + MAX_EXTRA_GAP * height]


def _relative_levels(grey: np.ndarray, ink: np.ndarray, ground: np.ndarray) -> np.ndarray:
    """The rectified line smoothed and scaled so that the ink is 0 and the plate's ground 1."""
    level = grey.astype(np.float32)
    ink_level = float(np.percentile(level[ink], 10))
    ground_level = float(np.median(level[ground]))
    relative: np.ndarray = cv2.blur((level - ink_level) / max(ground_level - ink_level, 1.0), (5, 5))
    return relative


def _cells(groups: tuple[tuple[tuple[int, int], ...], ...], reach: int) -> list[tuple[int, int]]:
    """Each glyph's cell: its ink span reaching `reach` px further on either side (a patch that
    erased its left or right part lies beside what is left), but not past the line's ends, where the
    plate's border and bands begin."""
    spans = [span for group in groups for span in group]
    first, last = spans[0][0], spans[-1][1]
    return [(max(first, left - reach), min(last, right + reach)) for left, right in spans]


def _foreign_ground(
    grey: np.ndarray, ink: np.ndarray, groups: tuple[tuple[tuple[int, int], ...], ...], top: int, bottom: int
) -> list[str]:
    """Cells whose ground (away from the ink's blurred edge) holds a patch darker than the plate, and
    glyphs whose ink holds a patch lighter than the line's ink."""
    spans = [span for group in groups for span in group]
    near = cv2.dilate(ink.astype(np.uint8), np.ones((_NEAR_INK_PX, _NEAR_INK_PX), np.uint8)).astype(bool)
    ground = np.zeros_like(ink, dtype=bool)
    ground[top:bottom, spans[0][0] : spans[-1][1]] = True
    ground &= ~near
    # the dashes between groups are print, not ground: leave out the middle rows there
    middle, half = (top + bottom) // 2, round(_DASH_HALF_HEIGHT * (bottom - top))
    for earlier, later in itertools.pairwise(groups):
        ground[middle - half : middle + half, earlier[-1][1] : later[0][0]] = False
    if not ground.any() or not ink.any():
        return []
    relative = _relative_levels(grey, ink, ground)
    inner = cv2.erode(ink.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    reasons = []
    lightest = []
    cells = _cells(groups, round(_CELL_REACH * (bottom - top)))
    for index, ((left, right), (cell_left, cell_right)) in enumerate(zip(spans, cells, strict=True)):
        cell = relative[top:bottom, cell_left:cell_right][ground[top:bottom, cell_left:cell_right]]
        if cell.size > 10 and float(np.percentile(cell, 5)) < MIN_GROUND:
            reasons.append(f"character {index + 1} stands on a patch that is not the plate")
        strokes = relative[:, left:right][inner[:, left:right]]
        lightest.append(float(np.percentile(strokes, 90)) if strokes.size else 0.0)
    usual = float(np.median(lightest))
    reasons += [
        f"character {index + 1} holds ink lighter than the line's"
        for index, level in enumerate(lightest)
        if level > usual + MAX_LIGHTER_INK
    ]
    return reasons
