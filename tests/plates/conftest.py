"""A plate reader shared by the plate tests (Tesseract starts once per session)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from speedledger.edge.plates.tesseract import TessdataNotFound, TesseractPlateReader
from tests.conftest import missing_dependency


@pytest.fixture(scope="session")
def reader() -> Iterator[TesseractPlateReader]:
    try:
        plate_reader = TesseractPlateReader()
    except TessdataNotFound as error:
        missing_dependency(f"Tesseract language data ({error})")
    with plate_reader:
        yield plate_reader
