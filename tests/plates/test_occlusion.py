"""An occluded character is never guessed: dirt, tar, dust or a sticker over any character gives `""`."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from speedledger.edge.plates.port import NO_PLATE
from speedledger.edge.plates.tesseract import TesseractPlateReader
from speedledger.simulator.plates import (
    OCCLUDER_COLOURS,
    Degradation,
    Occluder,
    random_degradation,
    random_occluder,
    random_siv_plate,
    render_frame,
)

PLATE = "RX003RN"
MUD, TAR, DUST, PAINT, STICKER = OCCLUDER_COLOURS
OCCLUDERS = (
    Occluder(0, "rect", 0.75, "right", MUD),
    Occluder(0, "ellipse", 0.8, "centre", TAR),
    Occluder(0, "blob", 0.7, "top", DUST),
    Occluder(0, "rect", 0.6, "left", STICKER),
    Occluder(0, "blob", 0.6, "bottom", MUD),
    Occluder(0, "ellipse", 0.45, "right", PAINT),  # white paint, 15 grey levels under the plate's white
    Occluder(0, "blob", 0.45, "left", PAINT),
    Occluder(0, "blob", 0.55, "centre", STICKER),
)


def test_the_reported_plate_with_its_r_under_mud_is_not_read(reader: TesseractPlateReader) -> None:
    clean = render_frame(PLATE, np.random.default_rng(3), 45, Degradation(jpeg_quality=80))
    assert reader.read(clean.image_bgr).plate == PLATE
    stem_only = Occluder(5, "rect", 0.75, "right", MUD)  # the second R: only its left stem still shows
    covered = render_frame(PLATE, np.random.default_rng(3), 45, Degradation(jpeg_quality=80), occluders=(stem_only,))
    assert reader.read(covered.image_bgr) == NO_PLATE


@pytest.mark.parametrize("position", range(len(PLATE)))
@pytest.mark.parametrize(
    "kind",
    range(len(OCCLUDERS)),
    ids=["mud-stem", "tar", "dust", "sticker", "mud-splash", "paint-right", "paint-left", "sticker-inside"],
)
def test_a_covered_character_at_any_position_voids_the_plate(
    reader: TesseractPlateReader, position: int, kind: int
) -> None:
    occluder = dataclasses.replace(OCCLUDERS[kind], position=position)
    camera = Degradation(jpeg_quality=85)
    frame = render_frame(PLATE, np.random.default_rng(position), 45, camera, occluders=(occluder,))
    assert reader.read(frame.image_bgr) == NO_PLATE


def test_a_seeded_sample_of_random_occluders_gives_no_wrong_plate(reader: TesseractPlateReader) -> None:
    """Any shape, size (35-100 % of the glyph), colour and side, over any character, across the
    camera envelope: the plate is read exactly or not at all (on this sample; the benchmark measures
    the rate over 2000 of another seed: docs/plates.md)."""
    rng = np.random.default_rng(2026)
    for _ in range(60):
        plate = random_siv_plate(rng)
        frame = render_frame(
            plate, rng, int(rng.integers(35, 61)), random_degradation(rng), occluders=(random_occluder(rng),)
        )
        assert reader.read(frame.image_bgr).plate in ("", plate)
