"""The plate font's glyphs: every character read must show the strokes its glyph has.

Tesseract reads a character together with whatever covers it: a tar block set on the stem of an `L`
comes back as an `E`, and what white paint leaves of an `N` as a `T`. Every reading agrees, and no
rule about the ground or the strokes sees a patch as dark and as thin as the ink. What gives it away
is the character read: an `E` has a top arm where that ink has paper. So once a line is read, each
character's glyph in the plate's typeface is drawn over its ink, at the line's character height and
horizontal stretch (one for the whole line, so a character that lost its side is not squeezed to
fit), and the core of its strokes must lie on ink; blur and binarisation move a stroke's edges by
a pixel or two, which the core leaves out.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from speedledger.edge.plates.evidence import depth, stroke_half_width

# The typefaces plates are printed in: the simulator's (DejaVu Sans Bold, condensed or not). Real SIV
# plates use their own typeface; a deployment passes its font files to the reader (docs/plates.md).
PLATE_FONTS = ("DejaVuSansCondensed-Bold.ttf", "DejaVuSans-Bold.ttf")
_FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),  # Debian fonts-dejavu-core (scripts/system-deps.sh)
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
)
MAX_MISSING = 0.011  # glyph stroke core without ink under it, in square character heights...
MAX_THICK = 0.016  # ...and ink too thick for the glyph's strokes there: together at most 1 of these
_THICKER_PX = 2.0  # ink deeper than the glyph's strokes by more than this (40 px working height) is too thick
_REACH_PX = 2  # how far from a stroke of the glyph its depth still counts (the glyph is placed to a pixel or two)
_EDGE_PX = 2  # a stroke's edge may move this much (blur, binarisation) at the 40 px working height
_SHIFT_PX = 2  # the glyph is tried this far either side of the ink's centre


class FontNotFound(FileNotFoundError):
    pass


def font_path(name: str = PLATE_FONTS[0]) -> Path:
    """A font file by name: a path as it is, else a DejaVu font from the system (Debian
    fonts-dejavu-core) or, failing that, matplotlib's copy."""
    candidates = [Path(name), *(directory / name for directory in _FONT_DIRS)]
    spec = importlib.util.find_spec("matplotlib")
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidates.append(Path(location) / "mpl-data" / "fonts" / "ttf" / name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FontNotFound(f"font {name} not found; install fonts-dejavu-core (scripts/system-deps.sh)")


@functools.lru_cache(maxsize=64)
def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path(name)), size)


@functools.lru_cache(maxsize=1024)
def glyph(char: str, font_name: str, height: int) -> np.ndarray:
    """The character's ink box, black (0) on white (255), scaled to `height` px, its proportions kept."""
    face = font(font_name, 200)
    left, top, right, bottom = face.getbbox(char)
    canvas = Image.new("L", (int(right - left), int(bottom - top)), 255)
    ImageDraw.Draw(canvas).text((-left, -top), char, font=face, fill=0)
    width = max(1, round((right - left) * height / (bottom - top)))
    return cv2.resize(np.asarray(canvas), (width, height), interpolation=cv2.INTER_AREA)


def mismatched_glyphs(ink: np.ndarray, spans: list[tuple[int, int]], text: str, fonts: tuple[str, ...]) -> list[str]:
    """Characters of `text` whose glyph, in the best fitting of `fonts`, does not explain their ink
    (one reason each; empty when every glyph does). `ink` is the rectified line's glyph mask and
    `spans` the x span of each character in it. Strokes missing and ink too thick are weighed
    together: a splash that makes another character does a little of both."""
    return [
        f"character {index + 1} ({char}) does not match its glyph: {missing:.4f} h² of its strokes "
        f"without ink, {thick:.4f} h² of ink thicker than them"
        for index, (char, (missing, thick)) in enumerate(zip(text, mismatch(ink, spans, text, fonts), strict=True))
        if missing / MAX_MISSING + thick / MAX_THICK > 1
    ]


def mismatch(
    ink: np.ndarray, spans: list[tuple[int, int]], text: str, fonts: tuple[str, ...]
) -> list[tuple[float, float]]:
    """Per character, with its glyph placed where the least of its stroke core lacks ink (over
    `fonts` and small shifts): that area, and the area of the character's ink more than
    `_THICKER_PX` deeper than the glyph's strokes within `_REACH_PX` of it (after the line's own
    thickening by blur and binarisation), both in square character heights."""
    rows = [np.flatnonzero(ink[:, left:right].any(axis=1)) for left, right in spans]
    top = int(np.median([row[0] for row in rows]))
    height = int(np.median([row[-1] + 1 for row in rows])) - top
    margin = 2 * _EDGE_PX + _SHIFT_PX + 2
    padded = np.pad(ink, margin)
    ink_depth = depth(padded)
    line_stroke = stroke_half_width(ink[:, spans[0][0] : spans[-1][1]])
    edge = np.ones((2 * _EDGE_PX + 1,) * 2, np.uint8)
    reach = np.ones((2 * _REACH_PX + 1,) * 2, np.uint8)
    best = [(np.inf, 0.0)] * len(text)
    for name in fonts:
        shapes = [glyph(char, name, height) for char in text]
        # one horizontal stretch for the line (the plate's proportions), set by most characters
        ratios = [(right - left) / shape.shape[1] for (left, right), shape in zip(spans, shapes, strict=True)]
        stretch = float(np.median(ratios))
        strokes = [
            cv2.resize(shape, (max(1, round(shape.shape[1] * stretch)), height), interpolation=cv2.INTER_AREA) < 128
            for shape in shapes
        ]
        thickening = max(0.0, line_stroke - float(np.median([stroke_half_width(stroke) for stroke in strokes])))
        for index, ((left, right), stroke) in enumerate(zip(spans, strokes, strict=True)):
            width = stroke.shape[1]
            core = cv2.erode(stroke.astype(np.uint8), edge).astype(bool)
            x0 = round((left + right - width) / 2) + margin
            y0 = top + margin
            missing, _, dx, dy = min(  # the least missing, then the placement nearest the centre
                (
                    int((core & ~padded[y0 + dy : y0 + dy + height, x0 + dx : x0 + dx + width]).sum()),
                    abs(dx) + abs(dy),
                    dx,
                    dy,
                )
                for dx in range(-_SHIFT_PX, _SHIFT_PX + 1)
                for dy in (-1, 0, 1)
            )
            if missing / height**2 >= best[index][0]:
                continue
            # how deep the glyph's strokes are near each pixel of the character's columns
            allowed = np.zeros(padded.shape, np.float32)
            allowed[y0 + dy : y0 + dy + height, x0 + dx : x0 + dx + width] = depth(stroke)
            near = cv2.dilate(allowed, reach)
            columns = slice(left + margin, right + margin)
            thick = int((ink_depth[:, columns] > near[:, columns] + thickening + _THICKER_PX).sum())
            best[index] = (missing / height**2, thick / height**2)
    return [(float(missing), thick) for missing, thick in best]
