"""Finding plate text in a whole frame, and cutting it out upright at a known scale (OpenCV).

A plate's characters are dark glyphs of one height standing in a row on a bright ground. The frame is
thresholded locally, its dark connected components become glyphs, neighbouring glyphs of a like height
chain into text lines, and each line is rotated level and scaled to a fixed character height. Badge text
chains too; telling a plate from a badge is the reader's job (layout, OCR, format), not this module's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

MIN_CHAR_HEIGHT_PX = 14
MAX_CHAR_HEIGHT_PX = 160
_THRESHOLD_BLOCK_PX = 41  # local-mean window; wider than the thickest stroke the reader supports
_THRESHOLD_OFFSET = 10  # grey levels below the local mean that count as ink


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def centre_y(self) -> float:
        return self.y + self.h / 2


@dataclass(frozen=True)
class TextLine:
    glyphs: tuple[Box, ...]  # left to right
    angle_deg: float  # slope of the line through the glyph centres; positive falls to the right
    char_height: float  # median glyph height, px


def find_glyphs(gray: np.ndarray) -> list[Box]:
    """Dark, character-sized connected components of a greyscale frame."""
    ink = cv2.adaptiveThreshold(
        gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, _THRESHOLD_BLOCK_PX, _THRESHOLD_OFFSET
    )
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    glyphs = []
    for x, y, w, h, area in stats[1:count].tolist():
        if not MIN_CHAR_HEIGHT_PX <= h <= MAX_CHAR_HEIGHT_PX or not 0.12 * h <= w <= 2.6 * h:
            continue
        if not 0.12 <= area / (w * h) <= 0.9:
            continue
        glyphs.append(Box(x, y, w, h))
    return glyphs


def _alike(left: Box, right: Box) -> bool:
    """Could `right` be the next character after `left` on the same line?"""
    height = max(left.h, right.h)
    gap = right.x - left.right
    return (
        -0.4 * height <= gap <= 0.9 * height  # bounding boxes of kerned pairs (AV, JB) overlap
        and abs(left.centre_y - right.centre_y) <= 0.25 * height
        and min(left.h, right.h) >= 0.7 * height  # a J may hang below the line
    )


def find_text_lines(glyphs: list[Box], min_glyphs: int = 4) -> list[TextLine]:
    """Chains of glyphs, each linked to its nearest like neighbour on the right."""
    ordered = sorted(glyphs, key=lambda box: box.x)
    parent = list(range(len(ordered)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, left in enumerate(ordered):
        neighbours = [j for j in range(i + 1, len(ordered)) if _alike(left, ordered[j])]
        if neighbours:
            nearest = min(neighbours, key=lambda j: ordered[j].x - left.right)
            parent[root(nearest)] = root(i)
    chains: dict[int, list[Box]] = {}
    for i, box in enumerate(ordered):
        chains.setdefault(root(i), []).append(box)
    lines = []
    for chain in chains.values():
        if len(chain) < min_glyphs:
            continue
        char_height = float(np.median([box.h for box in chain]))
        if chain[-1].right - chain[0].x < 3.0 * char_height:
            continue
        xs = np.array([box.x + box.w / 2 for box in chain])
        ys = np.array([box.centre_y for box in chain])
        slope = float(np.polyfit(xs, ys, 1)[0])
        lines.append(TextLine(tuple(chain), math.degrees(math.atan(slope)), char_height))
    return lines


def rectify(gray: np.ndarray, line: TextLine, char_height_px: int, margin: float = 0.6) -> np.ndarray:
    """The line's surroundings rotated level and scaled so its characters are `char_height_px` high.

    `margin` (in character heights) of context is kept on every side so layout marks (dashes, plate
    edges) stay visible.
    """
    scale = char_height_px / line.char_height
    first, last = line.glyphs[0], line.glyphs[-1]
    centre = ((first.x + last.right) / 2, float(np.mean([box.centre_y for box in line.glyphs])))
    span = (last.right - first.x) / math.cos(math.radians(line.angle_deg))
    width = round(span * scale + 2 * margin * char_height_px)
    height = round(char_height_px * (1 + 2 * margin))
    matrix = cv2.getRotationMatrix2D(centre, line.angle_deg, scale)
    matrix[0, 2] += width / 2 - centre[0]
    matrix[1, 2] += height / 2 - centre[1]
    return cv2.warpAffine(gray, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
