"""Evidence in the image that a plate's characters are whole: any doubt about one voids the plate.

Tesseract reads the remains of a covered character as whatever valid character they look like (the
left stem of an `R` under mud came back as a confident `Q`). So before a line is read, every glyph
of the rectified line is checked against what clean printing looks like. Plate characters are one
ink on one ground, all the same height on one baseline, drawn with one stroke width, set at an even
spacing and centred between the plate's bands; dirt, stickers, paint or a tow bar break one of these:
- the glyph's top or bottom leaves the line's common top or baseline (a patch spilling over it, or
  covering the character's top or bottom);
- a patch as dark as the ink merged into the glyph: part of it is much thicker than the line's strokes;
- part of the glyph is gone: a gap to its neighbour, or to a dash, well wider than the line's usual
  one, or the text no longer centred between the bands (the plate's first or last character cut);
- the ground around the glyph is not the plate's ground: a patch darker than the plate (dust, a
  sticker, even white paint a few grey levels darker than the plate) lies in its cell;
- the glyph's cell holds colour: plate ink and ground are neutral (black on white), mud and
  stickers are not, even where their grey level passes for ink or ground;
- the glyph's ink is not the line's ink: a grey patch (mud, dust) merged into it.
Each group must also hold exactly its number of glyphs. Thresholds are in character heights and were
set on clean frames and on occluded ones of other seeds than the benchmark reports (docs/plates.md).
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

MAX_ALIGNMENT = 0.05  # top and bottom within this of the line's median, in character heights
MAX_STROKE = 1.7  # ink thicker than this times the line's stroke is a blob...
MAX_BLOB_AREA = 0.02  # ...when it covers more than this, in square character heights
MAX_EXTRA_GAP = 0.12  # a gap at most this wider than the line's median gap, in character heights
MAX_OFF_CENTRE = 0.16  # the text's margins to the bands differ by at most this, in character heights
MIN_COLOUR = 0.15  # a pixel more colourful than this, relative to the ink-to-ground contrast, is not print
PATCH_LEVEL = 0.965  # ground whose local mean lies below this, between ink (0) and the plate (1)...
MAX_PATCH_AREA = 0.012  # ...over more than this of a cell, in square character heights, is a patch
MAX_LIGHTER_INK = 0.12  # a glyph's lightest ink (90th percentile) at most this above the line's usual
_NEAR_INK_PX = 7  # ground pixels closer to the ink than this belong to its blurred edge
_PATCH_PX = 7  # the window the ground's local mean is taken over
_CELL_REACH = 0.3  # a glyph's cell reaches this far beyond its ink on either side, in character heights
_DASH_HALF_HEIGHT = 0.25  # a dash lies within this of the line's middle, in character heights

_Spans = tuple[tuple[int, int], ...]


def suspect_characters(
    grey: np.ndarray,
    ink: np.ndarray,
    groups: tuple[_Spans, ...],
    dashes: _Spans,
    lengths: tuple[int, ...],
    colour: np.ndarray | None = None,
) -> list[str]:
    """Why the line's characters cannot all be trusted (one reason per finding; empty when whole).

    `grey` is the rectified line, `ink` its glyph mask, `groups` the x span of each glyph group by
    group, `dashes` the x span of each dash between them, `lengths` the format's group lengths and
    `colour` the line's colourfulness (max - min of B, G, R) rectified like `grey`, None when the
    frame is greyscale.
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
    reasons = []
    for index, row in enumerate(rows):
        if max(abs(row[0] - np.median(tops)), abs(row[-1] + 1 - np.median(bottoms))) > MAX_ALIGNMENT * height:
            reasons.append(f"character {index + 1} leaves the line's top or baseline")
    reasons += _blobs(ink, spans, height)
    reasons += _gaps(groups, dashes, height)
    top, bottom = int(np.median(tops)), int(np.median(bottoms))
    edges = _plate_edges(grey, ink, spans, top, bottom)
    reasons += _off_centre(spans, edges, bottom - top, grey.shape[1])
    # the ground reaches from the text to the bands, short of their blurred edges
    blur = _NEAR_INK_PX // 2
    ends = (
        spans[0][0] if edges[0] is None else min(spans[0][0], edges[0] + blur),
        spans[-1][1] if edges[1] is None else max(spans[-1][1], edges[1] - blur),
    )
    reasons += _foreign_ground(grey, ink, groups, top, bottom, ends, colour)
    return reasons


def _blobs(ink: np.ndarray, spans: list[tuple[int, int]], height: float) -> list[str]:
    """Glyphs holding ink much thicker than the line's strokes over more than a junction's area.

    The stroke is the median half-width along the ink's ridges (distance-transform maxima), so one
    thick glyph does not set it."""
    distance = depth(ink)
    stroke = stroke_half_width(ink, distance)
    if not stroke:
        return []
    return [
        f"character {index + 1} holds a blob thicker than the strokes"
        for index, (left, right) in enumerate(spans)
        if (distance[:, left:right] > MAX_STROKE * stroke).sum() > MAX_BLOB_AREA * height**2
    ]


def depth(mask: np.ndarray) -> np.ndarray:
    """Each pixel's distance to the nearest pixel outside `mask` (0 outside it); the image's
    border counts as outside."""
    distance: np.ndarray = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    return distance


def stroke_half_width(mask: np.ndarray, distance: np.ndarray | None = None) -> float:
    """The median half-width of `mask`'s strokes along their ridges (the maxima of its `depth`), so
    junctions and one thick glyph do not set it; 0 when it has no stroke over a pixel thick."""
    distance = depth(mask) if distance is None else distance
    ridge = mask.astype(bool) & (distance >= cv2.dilate(distance, np.ones((3, 3), np.uint8))) & (distance > 1)
    return float(np.median(distance[ridge])) if ridge.any() else 0.0


def _gaps(groups: tuple[_Spans, ...], dashes: _Spans, height: float) -> list[str]:
    """Gaps between glyphs, and between glyphs and dashes, each against the line's usual one."""
    reasons = []
    gaps = [later[0] - earlier[1] for group in groups for earlier, later in itertools.pairwise(group)]
    dash_gaps = [
        gap
        for (earlier, later), dash in zip(itertools.pairwise(groups), dashes, strict=True)
        for gap in (dash[0] - earlier[-1][1], later[0][0] - dash[1])
    ]
    for kind, found in (("a character", gaps), ("a character beside a dash", dash_gaps)):
        if found:
            usual = float(np.median(found))
            limit = usual + MAX_EXTRA_GAP * height
            reasons += [f"{kind} is cut short (gap {gap} px)" for gap in found if gap > limit]
    return reasons


def _plate_edges(
    grey: np.ndarray, ink: np.ndarray, spans: list[tuple[int, int]], top: int, bottom: int
) -> tuple[int | None, int | None]:
    """The columns where the plate's ground ends on either side of the text (its bands or border
    begin: the nearest columns darker, over the character rows, than halfway from ink to ground);
    None where the crop does not reach that far."""
    level = grey[top:bottom].astype(np.float32)
    text = level[:, spans[0][0] : spans[-1][1]]
    halfway = 0.5 * (float(np.percentile(grey[ink], 10)) + float(np.percentile(text, 90)))
    dark = np.flatnonzero(level.mean(axis=0) < halfway)
    before, after = dark[dark < spans[0][0]], dark[dark >= spans[-1][1]]
    return (int(before[-1]) + 1 if before.size else None, int(after[0]) if after.size else None)


def _off_centre(
    spans: list[tuple[int, int]], edges: tuple[int | None, int | None], height: int, width: int
) -> list[str]:
    """Whether the text is no longer centred between the plate's bands (or border), as when the
    first or last character lost its outer part. A band beyond the crop (`width` columns wide) is at
    least as far as the crop's end: that margin can then be found too wide, never too narrow."""
    if edges[0] is None and edges[1] is None:
        return []
    left = spans[0][0] - (0 if edges[0] is None else edges[0])
    right = (width if edges[1] is None else edges[1]) - spans[-1][1]
    limit = MAX_OFF_CENTRE * height
    if (
        (edges[0] is None and left - right > limit)
        or (edges[1] is None and right - left > limit)
        or (None not in edges and abs(left - right) > limit)
    ):
        return [f"the text is off centre between the bands ({left} px against {right} px)"]
    return []


def _cells(spans: list[tuple[int, int]], reach: int, ends: tuple[int, int]) -> list[tuple[int, int]]:
    """Each glyph's cell: its ink span reaching `reach` px further on either side (a patch that
    erased its left or right part lies beside what is left), but not past `ends`, where the plate's
    border and bands begin."""
    return [(max(ends[0], left - reach), min(ends[1], right + reach)) for left, right in spans]


def _foreign_ground(
    grey: np.ndarray,
    ink: np.ndarray,
    groups: tuple[_Spans, ...],
    top: int,
    bottom: int,
    ends: tuple[int, int],
    colour: np.ndarray | None,
) -> list[str]:
    """Cells whose ground (away from the ink's blurred edge) holds a patch darker than the plate, or
    that hold colour, and glyphs whose ink holds a patch lighter than the line's ink.

    The ground's level is averaged over ground pixels only (a normalised box filter), so neither the
    ink's blurred edges nor single noisy or JPEG-ringing pixels count, while a patch a few grey levels
    darker than the plate does."""
    spans = [span for group in groups for span in group]
    near = cv2.dilate(ink.astype(np.uint8), np.ones((_NEAR_INK_PX, _NEAR_INK_PX), np.uint8)).astype(bool)
    ground = np.zeros_like(ink, dtype=bool)
    ground[top:bottom, ends[0] : ends[1]] = True
    ground &= ~near
    # the dashes between groups are print, not ground: leave out the middle rows there
    middle, half = (top + bottom) // 2, round(_DASH_HALF_HEIGHT * (bottom - top))
    for earlier, later in itertools.pairwise(groups):
        ground[middle - half : middle + half, earlier[-1][1] : later[0][0]] = False
    if not ground.any() or not ink.any():
        return []
    level = grey.astype(np.float32)
    ink_level = float(np.percentile(level[ink], 10))
    contrast = max(float(np.median(level[ground])) - ink_level, 1.0)
    relative = (level - ink_level) / contrast
    window = (_PATCH_PX, _PATCH_PX)
    total = cv2.boxFilter(np.where(ground, relative, 0).astype(np.float32), -1, window, normalize=False)
    count = cv2.boxFilter(ground.astype(np.float32), -1, window, normalize=False)
    enough = count >= _PATCH_PX**2 / 3
    patch = ground & enough & (total < PATCH_LEVEL * np.maximum(count, 1))
    smoothed = cv2.blur(relative, (5, 5))
    # colour is looked for between the text's ends only: the blue bands bleed colour into the margins
    coloured = np.zeros_like(ink, dtype=bool)
    if colour is not None:
        text = slice(spans[0][0], spans[-1][1])
        coloured[:, text] = cv2.blur(colour.astype(np.float32), (3, 3))[:, text] > MIN_COLOUR * contrast
    inner = cv2.erode(ink.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    reasons = []
    lightest = []
    height = bottom - top
    cells = _cells(spans, round(_CELL_REACH * height), ends)
    for index, ((left, right), (cell_left, cell_right)) in enumerate(zip(spans, cells, strict=True)):
        if patch[top:bottom, cell_left:cell_right].sum() > MAX_PATCH_AREA * height**2:
            reasons.append(f"character {index + 1} stands on a patch that is not the plate")
        if coloured[top:bottom, cell_left:cell_right].sum() > MAX_PATCH_AREA * height**2:
            reasons.append(f"character {index + 1} has colour on it")
        strokes = smoothed[:, left:right][inner[:, left:right]]
        lightest.append(float(np.percentile(strokes, 90)) if strokes.size else 0.0)
    usual = float(np.median(lightest))
    reasons += [
        f"character {index + 1} holds ink lighter than the line's"
        for index, level in enumerate(lightest)
        if level > usual + MAX_LIGHTER_INK
    ]
    return reasons
