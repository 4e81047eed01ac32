"""The Tesseract plate reader on rendered vehicle-front frames: exact reads, never a confident misread.

The matrix is seeded, so every run judges the same frames; its size keeps this file under a minute on a
loaded two-core machine (about 15 s of CPU). `bench/plate_bench.py` runs larger matrices and measures time per frame.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from speedledger.edge.plates import NO_PLATE, PlateRead
from speedledger.edge.plates.port import FRENCH_SIV
from speedledger.edge.plates.tesseract import TesseractPlateReader
from speedledger.simulator.plates import Degradation, Frame, frame_matrix, render_frame, render_plate

MATRIX_FRAMES = 200  # every 10th without a plate: 180 plates, 20 empty holders
MATRIX_SEED = 20261128


def _score(reader: TesseractPlateReader, frames: list[Frame]) -> tuple[int, list[tuple[str, PlateRead]]]:
    """Exact reads, and every frame where the reader said something other than the truth."""
    exact, misses = 0, []
    for frame in frames:
        read = reader.read(frame.image_bgr)
        if read.plate == frame.plate and frame.plate:
            exact += 1
        elif read.plate != frame.plate:
            misses.append((frame.plate, read))
    return exact, misses


def test_acceptance_matrix_reads_98_percent_and_never_a_wrong_plate(reader: TesseractPlateReader) -> None:
    frames = list(frame_matrix(MATRIX_FRAMES, MATRIX_SEED, char_heights=(35, 60), no_plate_every=10))
    plates = sum(1 for frame in frames if frame.plate)
    exact, misses = _score(reader, frames)
    wrong = [(truth, read.plate) for truth, read in misses if read.plate]
    assert wrong == [], "confident misreads (truth, read) — including plates invented on empty holders"
    assert exact / plates >= 0.98, f"{exact}/{plates} exact; unread: {[truth for truth, _ in misses]}"


@pytest.mark.parametrize(
    "degradation",
    [
        Degradation(rotation_deg=4.0, noise_sigma=2.0, jpeg_quality=75),
        Degradation(rotation_deg=-4.0, noise_sigma=2.0, jpeg_quality=75),
        Degradation(gaussian_sigma=1.3, noise_sigma=2.0, jpeg_quality=75),
        Degradation(motion_px=5, motion_angle_deg=10.0, noise_sigma=2.0, jpeg_quality=75),
        Degradation(noise_sigma=4.0, jpeg_quality=40),
        Degradation(exposure=0.35, noise_sigma=3.0, jpeg_quality=60),
    ],
    ids=["rot+4", "rot-4", "gauss1.3", "motion5", "jpeg40", "dim0.35"],
)
def test_each_degradation_at_the_edge_of_the_envelope(reader: TesseractPlateReader, degradation: Degradation) -> None:
    rng = np.random.default_rng(7)
    frames = [render_frame(_random_plate(rng), rng, 35, degradation) for _ in range(8)]
    exact, misses = _score(reader, frames)
    assert [read.plate for _, read in misses if read.plate] == []
    assert exact >= 7, misses


def test_clean_frame_is_read_with_high_confidence(reader: TesseractPlateReader) -> None:
    frame = render_frame("GZ123QK", np.random.default_rng(1), 45)
    read = reader.read(frame.image_bgr)
    assert read.plate == "GZ123QK"
    assert 900 <= read.confidence_pm <= 1000


def test_below_the_confidence_threshold_the_plate_is_left_unread(reader: TesseractPlateReader) -> None:
    frame = render_frame("BX558VV", np.random.default_rng(2), 42, Degradation(gaussian_sigma=0.8, jpeg_quality=60))
    read = reader.read(frame.image_bgr)
    assert read.plate == "BX558VV" and read.confidence_pm < 1000
    # A stricter reader tries more renderings and keeps each character's best agreeing confidence, so it
    # may still read the plate, but never below its threshold.
    with TesseractPlateReader(min_confidence_pm=read.confidence_pm + 1) as strict:
        stricter = strict.read(frame.image_bgr)
        assert stricter == NO_PLATE or (stricter.plate == read.plate and stricter.confidence_pm > read.confidence_pm)
    with TesseractPlateReader(min_confidence_pm=1001) as impossible:
        assert impossible.read(frame.image_bgr) == NO_PLATE


def test_frames_without_a_plate_give_an_empty_plate(reader: TesseractPlateReader) -> None:
    rng = np.random.default_rng(11)
    for _ in range(10):
        frame = render_frame(None, rng, int(rng.integers(35, 60)), Degradation(noise_sigma=2.0, jpeg_quality=70))
        assert reader.read(frame.image_bgr) == NO_PLATE


@pytest.mark.parametrize(
    "image",
    [
        np.full((480, 640, 3), 128, np.uint8),
        np.random.default_rng(5).integers(0, 256, (480, 640, 3), dtype=np.uint8),
        np.zeros((8, 8, 3), np.uint8),
        np.full((300, 400), 255, np.uint8),
    ],
    ids=["grey", "noise", "tiny", "greyscale-white"],
)
def test_images_without_text_give_an_empty_plate(reader: TesseractPlateReader, image: np.ndarray) -> None:
    assert reader.read(image) == NO_PLATE


def test_plate_like_text_without_the_plate_layout_is_not_a_plate(reader: TesseractPlateReader) -> None:
    """`AB 123 CD` in a sticker's lettering has no dashes between its groups: no SIV plate reads that way."""
    import cv2

    frame = render_frame(None, np.random.default_rng(4), 40).image_bgr.copy()
    cv2.rectangle(frame, (100, 60), (520, 150), (250, 250, 250), -1)
    cv2.putText(frame, "AB 123 CD", (120, 130), cv2.FONT_HERSHEY_DUPLEX, 2.2, (10, 10, 10), 5)
    assert reader.read(frame) == NO_PLATE


def test_two_different_plates_in_one_frame_are_not_guessed_between(reader: TesseractPlateReader) -> None:
    frame = render_frame("GZ123QK", np.random.default_rng(9), 40).image_bgr.copy()
    other = render_plate("AB456CD", 40)
    frame[20 : 20 + other.shape[0], 20 : 20 + other.shape[1]] = other
    assert reader.read(frame) == NO_PLATE


def _random_plate(rng: np.random.Generator) -> str:
    from speedledger.simulator.plates import random_siv_plate

    return random_siv_plate(rng)


def test_bgr_bgra_and_greyscale_frames_read_alike(reader: TesseractPlateReader) -> None:
    import cv2

    frame = render_frame("RT947QG", np.random.default_rng(12), 44, Degradation(jpeg_quality=80)).image_bgr
    for image in (frame, cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA), cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)):
        assert reader.read(image).plate == "RT947QG"


def test_frames_that_are_not_8_bit_images_are_refused(reader: TesseractPlateReader) -> None:
    with pytest.raises(ValueError, match="8-bit"):
        reader.read(np.zeros((100, 100, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        reader.read(np.zeros((100, 100, 2), np.uint8))


@pytest.mark.parametrize(
    ("lost", "read"),
    [
        (lambda letters: letters[:-1], "GZ123QK"),  # the last letter dropped: the agreed plate with one missing
        (lambda letters: letters[:-2] + "X", ""),  # one dropped, another read as X: it contradicts
    ],
    ids=["dropped", "dropped-and-changed"],
)
def test_a_reading_that_drops_a_character_counts_against_agreement(
    reader: TesseractPlateReader, monkeypatch: pytest.MonkeyPatch, lost: Callable[[str], str], read: str
) -> None:
    """The second reading of the letters (clean binary) loses a character; two other readings agree. A
    plate comes out only when what the short reading saw is the agreed plate with characters missing."""
    frame = render_frame("GZ123QK", np.random.default_rng(1), 45)
    ocr = reader._ocr
    letter_reads = []

    def short_second_reading(image: np.ndarray, alphabet: str) -> tuple[str, list[float]]:
        text, confidences = ocr(image, alphabet)
        if alphabet == FRENCH_SIV.groups[0][0]:
            letter_reads.append(text)
            if len(letter_reads) == 2:
                text = lost(text)
                return text, confidences[: len(text)]
        return text, confidences

    monkeypatch.setattr(reader, "_ocr", short_second_reading)
    assert reader.read(frame.image_bgr).plate == read
    assert len(letter_reads) >= 3, "the short reading was weighed against two agreeing ones"
