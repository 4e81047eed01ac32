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

# The typefaces plates are printed in: the simulator's (DejaVu Sans Bold, condensed or not). Real SIV
# plates use their own typeface; a deployment passes its font files to the reader (docs/plates.md).
PLATE_FONTS = ("DejaVuSansCondensed-Bold.ttf", "DejaVuSans-Bold.ttf")
_FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),  # Debian fonts-dejavu-core (scripts/system-deps.sh)
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
)
MAX_MISSING = 0.013  # glyph stroke core without ink under it, in square character heights
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


def missing_strokes(ink: np.ndarray, spans: list[tuple[int, int]], text: str, fonts: tuple[str, ...]) -> list[str]:
    """Characters of `text` whose glyph, in the best fitting of `fonts`, has stroke cores without ink
    under them (one reason each; empty when every glyph is there). `ink` is the rectified line's glyph
    mask and `spans` the x span of each character in it."""
    return [
        f"character {index + 1} ({char}) lacks strokes its glyph has"
        for index, (char, missing) in enumerate(zip(text, missing_area(ink, spans, text, fonts), strict=True))
        if missing > MAX_MISSING
    ]


def missing_area(ink: np.ndarray, spans: list[tuple[int, int]], text: str, fonts: tuple[str, ...]) -> list[float]:
    """Per character, the least area of its glyph's stroke core without ink under it, over `fonts`
    and small shifts, in square character heights."""
    rows = [np.flatnonzero(ink[:, left:right].any(axis=1)) for left, right in spans]
    top = int(np.median([row[0] for row in rows]))
    height = int(np.median([row[-1] + 1 for row in rows])) - top
    margin = 2 * _EDGE_PX + _SHIFT_PX + 2
    padded = np.pad(ink, margin)
    edge = np.ones((2 * _EDGE_PX + 1,) * 2, np.uint8)
    best = np.full(len(text), np.inf)
    for name in fonts:
        shapes = [glyph(char, name, height) for char in text]
        # one horizontal stretch for the line (the plate's proportions), set by most characters
        ratios = [(right - left) / shape.shape[1] for (left, right), shape in zip(spans, shapes, strict=True)]
        stretch = float(np.median(ratios))
        for index, ((left, right), shape) in enumerate(zip(spans, shapes, strict=True)):
            width = max(1, round(shape.shape[1] * stretch))
            stroke = (cv2.resize(shape, (width, height), interpolation=cv2.INTER_AREA) < 128).astype(np.uint8)
            core = cv2.erode(stroke, edge).astype(bool)
            x0 = round((left + right - width) / 2) + margin
            for dx in range(-_SHIFT_PX, _SHIFT_PX + 1):
                for dy in (-1, 0, 1):
                    under = padded[top + margin + dy : top + margin + dy + height, x0 + dx : x0 + dx + width]
                    best[index] = min(best[index], float((core & ~under).sum()))
    return [float(area) / height**2 for area in best]
