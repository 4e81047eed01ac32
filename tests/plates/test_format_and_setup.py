"""The national format, Tesseract data lookup, the renderer's determinism and `edge read-plate`."""

from __future__ import annotations

import json
import string
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from speedledger.edge.cli import edge_app
from speedledger.edge.plates import FRENCH_SIV
from speedledger.edge.plates import tesseract as tesseract_module
from speedledger.edge.plates.tesseract import TessdataNotFound, TesseractPlateReader, find_tessdata
from speedledger.shared.plates import is_french_siv
from speedledger.simulator.plates import Degradation, frame_matrix, random_siv_plate, render_frame


@pytest.mark.parametrize(
    ("plate", "valid"),
    [("GZ123QK", True), ("AA000ZZ", True), ("IO123AB", False), ("AB123CU", False), ("AB12CD", False),
     ("AB1234CD", False), ("1B123CD", False), ("ABC23CD", False), ("", False)],
)  # fmt: skip
def test_french_siv_format(plate: str, valid: bool) -> None:
    assert FRENCH_SIV.matches(plate) is valid
    assert is_french_siv(plate) is valid  # the shared portable check agrees


def test_format_agrees_with_the_shared_check_on_random_strings() -> None:
    rng = np.random.default_rng(0)
    alphabet = string.ascii_uppercase + string.digits
    for _ in range(2000):
        text = "".join(rng.choice(list(alphabet), 7))
        assert FRENCH_SIV.matches(text) == is_french_siv(text), text


def test_simulator_plates_always_fit_the_format() -> None:
    rng = np.random.default_rng(1)
    assert all(FRENCH_SIV.matches(random_siv_plate(rng)) for _ in range(500))


def test_rendered_frames_are_reproducible_from_their_seed() -> None:
    first = [frame.image_bgr for frame in frame_matrix(3, seed=42)]
    again = [frame.image_bgr for frame in frame_matrix(3, seed=42)]
    other = [frame.image_bgr for frame in frame_matrix(3, seed=43)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])


def test_tessdata_prefix_wins_and_a_bad_one_falls_back(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    try:
        system = find_tessdata()
    except TessdataNotFound as error:
        pytest.skip(str(error))
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))
    assert find_tessdata() == system  # nothing usable there: the system copy is found
    (tmp_path / "eng.traineddata").write_bytes(b"")
    assert find_tessdata() == str(tmp_path.resolve())


def test_missing_tessdata_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))
    monkeypatch.setattr(tesseract_module.tesserocr, "get_languages", lambda: (str(tmp_path), []))
    monkeypatch.setattr(tesseract_module, "_TESSDATA_GLOBS", ())
    with pytest.raises(TessdataNotFound, match="tesseract-ocr-eng"):
        TesseractPlateReader()


def test_cli_read_plate_json(reader: TesseractPlateReader, tmp_path: Path) -> None:
    frame = render_frame("KH145JB", np.random.default_rng(3), 40, Degradation(rotation_deg=2.0, jpeg_quality=70))
    plate_jpeg, empty_png = tmp_path / "frame.jpg", tmp_path / "empty.png"
    cv2.imwrite(str(plate_jpeg), frame.image_bgr)
    cv2.imwrite(str(empty_png), np.full((240, 320, 3), 90, np.uint8))
    runner = CliRunner()
    result = runner.invoke(edge_app, ["read-plate", str(plate_jpeg), "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["plate"] == "KH145JB" and 700 <= answer["confidence_pm"] <= 1000
    result = runner.invoke(edge_app, ["read-plate", str(empty_png), "--json"])
    assert json.loads(result.output) == {"plate": "", "confidence_pm": 0}


def test_cli_read_plate_refuses_what_is_not_an_image(tmp_path: Path) -> None:
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("no pixels here")
    result = CliRunner().invoke(edge_app, ["read-plate", str(not_an_image), "--json"])
    assert result.exit_code == 1
    assert "cannot read an image" in result.output


@pytest.mark.parametrize(("plate", "char_height"), [("AB12CD", 40), ("ab123cd", 40), ("AB123CU", 40), ("AB123CD", 91)])
def test_renderer_refuses_what_it_cannot_draw_faithfully(plate: str, char_height: int) -> None:
    with pytest.raises(ValueError):
        render_frame(plate, np.random.default_rng(0), char_height)
