"""`TesseractPlateReader`: OpenCV finds and rectifies the plate, Tesseract (in process, via tesserocr) reads it.

Per text line found in the frame (see `localise`):
1. rectify it to a fixed character height and split it into the format's groups at the dashes a plate
   prints between them (`AB-123-CD`); a line without that layout (a badge, a sticker) is dropped unread;
2. read each group with Tesseract restricted to that group's alphabet (letters without I/O/U, digits),
   so the classic O/0, B/8, S/5, Z/2 confusions cannot cross a group;
3. check every glyph for evidence that it is whole (`evidence`: one baseline, one stroke width, even
   gaps, clean ground): a covered character voids the line, since Tesseract would read its remains
   as some other valid character;
4. read it up to six ways (masked greyscale at one scale, clean binary at another, then plain
   greyscale; glyphs in order and in reverse order) and keep the plate only when two readings
   agree, none disagrees (a reading that drops a character disagrees unless it is the agreed text
   with characters missing: Tesseract drops a last letter it is unsure of), the text fits the
   format, every character's confidence clears the threshold and every character shows its glyph's
   strokes in the plate's typeface (`glyphs`: tar on an `L`'s stem reads `E`, but the ink has no top
   arm). Anything else is `NO_PLATE`: an
   unread plate is an unidentified infraction, a misread one would charge somebody else.
"""

from __future__ import annotations

import glob
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np
import tesserocr

from speedledger.edge.plates.evidence import suspect_characters
from speedledger.edge.plates.glyphs import PLATE_FONTS, font_path, mismatched_glyphs
from speedledger.edge.plates.localise import TextLine, find_glyphs, find_text_lines, rectify
from speedledger.edge.plates.port import FRENCH_SIV, NO_PLATE, PlateFormat, PlateRead

_CHAR_HEIGHT_PX = 40  # Tesseract's LSTM models read best around this height
_SECOND_CHAR_HEIGHT_PX = 30  # the agreeing second read uses another scale
_MARGIN = 0.6  # context kept around a line when rectifying, in character heights
_TESSDATA_GLOBS = (
    "/usr/share/tesseract-ocr/*/tessdata",  # Debian / Ubuntu tesseract-ocr-eng
    "/usr/share/tessdata",  # Fedora, Arch
    "/usr/local/share/tessdata",
    "/opt/homebrew/share/tessdata",
)


class TessdataNotFound(RuntimeError):
    pass


def find_tessdata(language: str = "eng") -> str:
    """The directory holding `<language>.traineddata`: $TESSDATA_PREFIX, tesserocr's default, then system paths."""
    candidates = []
    if prefix := os.environ.get("TESSDATA_PREFIX"):
        candidates += [prefix, os.path.join(prefix, "tessdata")]
    candidates.append(tesserocr.get_languages()[0])
    for pattern in _TESSDATA_GLOBS:
        candidates += sorted(glob.glob(pattern), reverse=True)
    for candidate in candidates:
        if (Path(candidate) / f"{language}.traineddata").is_file():
            return str(Path(candidate).resolve())
    raise TessdataNotFound(
        f"Tesseract data {language}.traineddata not found (looked in {', '.join(candidates)}); "
        "install the Debian package tesseract-ocr-eng (scripts/system-deps.sh) or set TESSDATA_PREFIX"
    )


_Groups = tuple[tuple[tuple[int, int], ...], ...]
_Read = tuple[str, list[float]]  # text and per-character confidences, 0..100


@dataclass(frozen=True)
class _Short:
    """A reading that dropped (or added) characters: per alphabet, the text read, in the plate's order."""

    strips: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _Layout:
    """The glyphs of one rectified line, split into the format's groups."""

    ink: np.ndarray  # bool mask of the glyph pixels in the rectified crop
    grey: np.ndarray  # the rectified crop
    groups: _Groups  # x span of each glyph in the crop, group by group
    dashes: tuple[tuple[int, int], ...]  # x span of each separator between the groups


class TesseractPlateReader:
    """Reads plates of one national format (French SIV by default) in whole camera frames.

    `min_confidence_pm` is the lowest per-character confidence (per mille) accepted; below it the
    reader answers `NO_PLATE`. `fonts` are the font files (names or paths) of the plates' typeface:
    every character read must show its glyph's strokes in one of them (`glyphs`). Not thread-safe:
    use one reader per thread.
    """

    def __init__(
        self,
        plate_format: PlateFormat = FRENCH_SIV,
        min_confidence_pm: int = 700,
        tessdata: str | None = None,
        fonts: tuple[str, ...] = PLATE_FONTS,
    ) -> None:
        self.plate_format = plate_format
        self.min_confidence_pm = min_confidence_pm
        self.fonts = tuple(str(font_path(name)) for name in fonts)  # fails now, not at the first plate
        path = tessdata or find_tessdata()
        self._apis: dict[str, tesserocr.PyTessBaseAPI] = {}
        for alphabet, _ in plate_format.groups:
            if alphabet not in self._apis:
                api = tesserocr.PyTessBaseAPI(path=path, lang="eng", psm=tesserocr.PSM.SINGLE_LINE)
                api.SetVariable("tessedit_char_whitelist", alphabet)
                self._apis[alphabet] = api

    def close(self) -> None:
        for api in self._apis.values():
            api.End()
        self._apis.clear()

    def __enter__(self) -> TesseractPlateReader:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def read(self, image_bgr: np.ndarray) -> PlateRead:
        gray, colour = _greyscale(image_bgr), _colourfulness(image_bgr)
        lines = find_text_lines(find_glyphs(gray))
        reads = [read for line in lines if (read := self._read_line(gray, colour, line)).plate]
        if len({read.plate for read in reads}) != 1:
            return NO_PLATE  # nothing read, or two different plates: no guess either way
        return max(reads, key=lambda read: read.confidence_pm)

    def _read_line(self, gray: np.ndarray, colour: np.ndarray | None, line: TextLine) -> PlateRead:
        """Read one text line several ways until two readings agree with confidence.

        `colour` is the frame's colourfulness (None for a greyscale frame). Any disagreement means no
        plate. A character's confidence is the best any agreeing reading gave it.
        """
        layout = self._layout(rectify(gray, line, _CHAR_HEIGHT_PX, _MARGIN))
        if layout is None:
            return NO_PLATE
        lengths = tuple(length for _, length in self.plate_format.groups)
        line_colour = None if colour is None else rectify(colour, line, _CHAR_HEIGHT_PX, _MARGIN)
        if suspect_characters(layout.grey, layout.ink, layout.groups, layout.dashes, lengths, line_colour):
            return NO_PLATE  # a covered or broken character would be read as some other one
        scale = _SECOND_CHAR_HEIGHT_PX / _CHAR_HEIGHT_PX
        masked = (_masked_grey(layout), layout.groups)
        binary_groups = tuple(tuple(_scaled(span, scale) for span in spans) for spans in layout.groups)
        binary = (_binary(layout, scale), binary_groups)
        plain = (_plain_grey(layout), layout.groups)  # only tried when the others do not agree
        # (rendering, glyphs in reverse order): readings in order of cost and of past success
        attempts = ((masked, False), (binary, False), (masked, True), (binary, True), (plain, False), (plain, True))
        agreed = ""
        best: list[float] = []
        readings = 0
        shorts: list[_Short] = []
        for (image, groups), backwards in attempts:
            read = self._read_groups(image, groups, backwards)
            if read is None:
                continue
            if isinstance(read, _Short):
                shorts.append(read)  # weighed against the text agreed on, once there is one
                continue
            text, confidences = read
            if agreed and text != agreed:
                return NO_PLATE  # two readings of one line differ: neither can be trusted
            agreed, readings = text, readings + 1
            best = [max(pair) for pair in zip(best, confidences, strict=True)] if best else confidences
            confidence_pm = round(10 * min(best))
            if readings >= 2 and confidence_pm >= self.min_confidence_pm:
                if not all(self._within(short, agreed) for short in shorts):
                    return NO_PLATE  # a reading that lost a character says something else: no plate
                spans = [span for group in layout.groups for span in group]
                if mismatched_glyphs(layout.ink, spans, agreed, self.fonts):
                    return NO_PLATE  # a character read does not explain its ink: something covers it
                return PlateRead(agreed, confidence_pm)
        return NO_PLATE

    def _layout(self, grey: np.ndarray) -> _Layout | None:
        """Glyphs and dashes on the middle row of a rectified line: the format's groups, or None."""
        h = _CHAR_HEIGHT_PX
        middle = grey.shape[0] / 2
        # Ink is looked for only where the line's glyphs were found, so a glyph blurred into the plate's
        # border or bands stays a glyph of its own.
        rows = slice(round(middle - 0.65 * h), round(middle + 0.65 * h))
        columns = slice(round((_MARGIN - 0.15) * h), grey.shape[1] - round((_MARGIN - 0.15) * h))
        level, _ = cv2.threshold(grey[rows, columns], 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
        ink = np.zeros_like(grey)
        ink[rows, columns] = np.where(grey[rows, columns] <= level, 255, 0)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
        glyphs, dashes = [], []
        for label, (x, y, w, height, _) in enumerate(stats[1:count].tolist(), start=1):
            centre_offset = abs(y + height / 2 - middle)
            if 0.75 * h <= height <= 1.3 * h and centre_offset <= 0.2 * h and 0.12 * h <= w <= 2.8 * h:
                glyphs.append((x, x + w, label))
            elif 0.05 * h <= height <= 0.4 * h and 0.12 * h <= w <= 0.9 * h and centre_offset <= 0.3 * h:
                dashes.append((x, x + w))
        glyphs.sort()
        if not glyphs:
            return None
        centres = [(left + right) / 2 for left, right, _ in glyphs]
        dashes = sorted(dash for dash in dashes if centres[0] < (dash[0] + dash[1]) / 2 < centres[-1])
        separators = [(left + right) / 2 for left, right in dashes]
        if len(separators) != len(self.plate_format.groups) - 1:
            return None
        bounds = [centres[0] - 1, *separators, centres[-1] + 1]
        groups = []
        for left, right in itertools.pairwise(bounds):
            members = [glyph for glyph, centre in zip(glyphs, centres, strict=True) if left <= centre < right]
            if not members:
                return None
            groups.append(tuple((x0, x1) for x0, x1, _ in members))
        mask = np.isin(labels, [label for _, _, label in glyphs])
        return _Layout(mask, grey, tuple(groups), tuple(dashes))

    def _within(self, short: _Short, plate: str) -> bool:
        """Whether each alphabet's text in `short` is `plate`'s with characters missing (or added)."""
        expected: dict[str, str] = {}
        start = 0
        for alphabet, length in self.plate_format.groups:
            expected[alphabet] = expected.get(alphabet, "") + plate[start : start + length]
            start += length
        for alphabet, text in short.strips:
            shorter, longer = sorted((text, expected[alphabet]), key=len)
            remaining = iter(longer)
            if not all(char in remaining for char in shorter):
                return False
        return True

    def _read_groups(self, image: np.ndarray, groups: _Groups, backwards: bool) -> _Read | _Short | None:
        """Read each group with its own alphabet: the text when it fits the format, `_Short` at the first strip
        with too few (or too many) characters, None otherwise.

        The groups sharing an alphabet are set side by side, one letter space apart, into one Tesseract
        call: a two-letter line alone is too short for the LSTM, and with a word space between groups it
        drops letters. It also drops a lone last letter it is unsure of (the J of `KJ`), so the second way
        of reading sets the glyphs in reverse order, where the glyphs stand apart.
        """
        texts = [""] * len(groups)
        confidences: list[float] = []
        strips: list[tuple[str, str]] = []
        for alphabet in dict.fromkeys(alphabet for alphabet, _ in self.plate_format.groups):
            members = [
                k for k, (group_alphabet, _) in enumerate(self.plate_format.groups) if group_alphabet == alphabet
            ]
            lengths = [self.plate_format.groups[k][1] for k in members]
            if not backwards:
                spans = tuple((groups[k][0][0], groups[k][-1][1]) for k in members)
            elif all(len(groups[k]) == length for k, length in zip(members, lengths, strict=True)):
                spans = tuple(span for k in members for span in groups[k])[::-1]
            else:
                return None  # glyphs blurred together cannot be put in reverse order
            read = self._read_strip(image, spans, alphabet)
            text, text_confidences = (read[0][::-1], read[1][::-1]) if backwards else read
            strips.append((alphabet, text))
            if len(text) != sum(lengths):
                return _Short(tuple(strips))
            start = 0
            for k, length in zip(members, lengths, strict=True):
                texts[k] = text[start : start + length]
                start += length
            confidences += text_confidences
        text = "".join(texts)
        return (text, confidences) if self.plate_format.matches(text) else None

    def _read_strip(self, image: np.ndarray, spans: tuple[tuple[int, int], ...], alphabet: str) -> _Read:
        """OCR the given column spans set side by side, one letter space apart."""
        char_height = image.shape[0] / (1 + 2 * _MARGIN)
        spacer = np.full((image.shape[0], round(0.15 * char_height)), 255, np.uint8)
        crops = [image[:, max(0, left - 2) : right + 2] for left, right in spans]
        strip = np.hstack([part for crop in crops for part in (spacer, crop)][1:])
        return self._ocr(np.pad(strip, round(char_height / 2), constant_values=255), alphabet)

    def _ocr(self, image: np.ndarray, alphabet: str) -> _Read:
        """Tesseract on a greyscale image, whitelisted to `alphabet`: the text and each symbol's confidence."""
        api = self._apis[alphabet]
        image = np.ascontiguousarray(image)
        api.SetImageBytes(image.tobytes(), image.shape[1], image.shape[0], 1, image.shape[1])
        api.Recognize()
        symbols = list(_symbols(api.GetIterator()))
        return "".join(char for char, _ in symbols), [confidence for _, confidence in symbols]


def _greyscale(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8:
        raise ValueError(f"camera frames are 8-bit images, not {image.dtype}")
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    raise ValueError(f"expected a BGR, BGRA or greyscale frame, got an array of shape {image.shape}")


def _colourfulness(image: np.ndarray) -> np.ndarray | None:
    """Per pixel, the spread between the strongest and weakest of B, G and R (0 for grey); None
    for a greyscale frame."""
    if image.ndim == 2:
        return None
    blue, green, red = cv2.split(image)[:3]
    spread: np.ndarray = cv2.subtract(cv2.max(cv2.max(blue, green), red), cv2.min(cv2.min(blue, green), red))
    return spread


def _symbols(iterator: tesserocr.PyResultIterator | None) -> Iterator[tuple[str, float]]:
    if iterator is None:
        return
    level = tesserocr.RIL.SYMBOL
    for symbol in tesserocr.iterate_level(iterator, level):
        try:
            text = symbol.GetUTF8Text(level)
        except RuntimeError:  # tesserocr's way of saying the image held no text
            return
        if text.strip():
            yield text.strip(), symbol.Confidence(level)


def _masked_grey(layout: _Layout) -> np.ndarray:
    """The rectified crop with everything but the glyphs (and a rim around them) turned white, stretched."""
    rim = cv2.dilate(layout.ink.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    ink_level = float(np.percentile(layout.grey[layout.ink], 10))
    paper_level = float(np.percentile(layout.grey[rim & ~layout.ink], 90)) if (rim & ~layout.ink).any() else 255.0
    stretched = (layout.grey.astype(np.float32) - ink_level) * (255.0 / max(paper_level - ink_level, 1.0))
    return np.where(rim, np.clip(stretched, 0, 255), 255).astype(np.uint8)


def _plain_grey(layout: _Layout) -> np.ndarray:
    """The rectified crop as it is, contrast-stretched, with only the rows of the characters kept."""
    middle, half = layout.grey.shape[0] / 2, 0.62 * _CHAR_HEIGHT_PX
    plain = np.full_like(layout.grey, 255)
    rows = slice(round(middle - half), round(middle + half))
    band = layout.grey[rows].astype(np.float32)
    low, high = float(band.min()), float(band.max())
    plain[rows] = np.rint((band - low) * (255.0 / max(high - low, 1.0))).astype(np.uint8)
    return plain


def _binary(layout: _Layout, scale: float) -> np.ndarray:
    clean = np.where(layout.ink, 0, 255).astype(np.uint8)
    size = (round(clean.shape[1] * scale), round(clean.shape[0] * scale))
    return cv2.resize(clean, size, interpolation=cv2.INTER_AREA)


def _scaled(span: tuple[int, int], scale: float) -> tuple[int, int]:
    return round(span[0] * scale), round(span[1] * scale)
