"""The plate-reader port: what the edge agent asks of any plate reader, and the national plate format."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from speedledger.shared.plates import DIGITS, SIV_LETTERS


@dataclass(frozen=True)
class PlateRead:
    """A normalised plate and the reader's confidence in it, per mille. `plate == ""` means unread."""

    plate: str
    confidence_pm: int


NO_PLATE = PlateRead("", 0)


class PlateReader(Protocol):
    def read(self, image_bgr: np.ndarray) -> PlateRead:
        """Read the plate in a camera frame (BGR, uint8). Return NO_PLATE rather than guess."""
        ...


@dataclass(frozen=True)
class PlateFormat:
    """A national plate format as groups of characters, each group drawn from one alphabet.

    Plates print the groups apart (SIV: dashes), so a reader can constrain each group to its alphabet.
    """

    name: str
    groups: tuple[tuple[str, int], ...]  # (alphabet, length) for each group, left to right

    @property
    def length(self) -> int:
        return sum(length for _, length in self.groups)

    def matches(self, plate: str) -> bool:
        if len(plate) != self.length:
            return False
        start = 0
        for alphabet, length in self.groups:
            if not all(char in alphabet for char in plate[start : start + length]):
                return False
            start += length
        return True


# French SIV, AA-123-AA: letters never I, O or U (same rule as speedledger.shared.plates.is_french_siv).
FRENCH_SIV = PlateFormat("FR-SIV", ((SIV_LETTERS, 2), (DIGITS, 3), (SIV_LETTERS, 2)))
