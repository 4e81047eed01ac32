"""Rendered camera frames of a vehicle's front carrying a French SIV plate, with camera degradations.

Frames are seeded and reproducible. A frame is a whole scene, not a crop: car body, grille with a brand
badge, headlights, a model badge and a dealer sticker (text that must never be read as a plate), the
plate somewhere below the grille, then the camera: rotation, Gaussian or motion blur, dim exposure,
sensor noise and JPEG compression. The plate follows the SIV layout (520 x 110 mm, characters 75 mm
high, blue EU band with the stars and "F" on the left, blue regional band on the right, `AB-123-CD`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw

from speedledger.edge.plates.glyphs import PLATE_FONTS, font
from speedledger.edge.plates.glyphs import glyph as plate_glyph
from speedledger.shared.plates import DIGITS, SIV_LETTERS, is_french_siv

FRAME_SIZE = (800, 600)  # width, height: a VGA-class crop of the enforcement camera around the lane
MAX_CHAR_HEIGHT_PX = 90  # the largest plate that still fits the frame with its surroundings
PLATE_MM = (520.0, 110.0)
CHAR_MM = 75.0
BAND_MM = 40.0
_EU_BLUE = (153, 51, 0)  # BGR
_BRANDS = ("PEUGEOT", "RENAULT", "CITROEN", "DACIA", "TOYOTA", "SKODA", "VOLVO", "FIAT")
_MODELS = ("CLIO", "MEGANE", "208", "C3 AIRCROSS", "SANDERO", "YARIS HYBRID", "OCTAVIA", "XC40", "PANDA 4X4")
_DEALERS = ("GARAGE DU CENTRE", "AUTO PLUS 75", "CONCESSION 2000", "GARAGE MODERNE", "AUTOS DU LAC 74")
_FONT_FILES = PLATE_FONTS  # the plates are printed in the typeface the reader checks glyphs against


@dataclass(frozen=True)
class Degradation:
    """What the camera does to a frame. Defaults are a clean, well-exposed frame."""

    rotation_deg: float = 0.0
    gaussian_sigma: float = 0.0
    motion_px: int = 0  # length of a linear motion-blur kernel, 0 for none
    motion_angle_deg: float = 0.0
    exposure: float = 1.0  # linear gain; below 1 is a dim frame
    noise_sigma: float = 0.0  # sensor noise, grey levels
    jpeg_quality: int | None = None


@dataclass(frozen=True)
class Occluder:
    """Dirt, a sticker, a tow bar... over one character of the plate.

    `position` is the character's index in the normalised plate (0-6); `shape` is "rect", "ellipse"
    or "blob" (an irregular splash); `coverage` the fraction of the glyph box's width it covers,
    from `side` ("left", "right", "top", "bottom" or "centre"; top and bottom cover that fraction
    of the height instead); `colour` is BGR.
    """

    position: int
    shape: str = "rect"
    coverage: float = 0.7
    side: str = "right"
    colour: tuple[int, int, int] = (40, 70, 100)  # dried mud


OCCLUDER_SHAPES = ("rect", "ellipse", "blob")
OCCLUDER_SIDES = ("left", "right", "top", "bottom", "centre")
# BGR: dried mud, tar, dust, white paint, a yellow sticker
OCCLUDER_COLOURS = ((40, 70, 100), (25, 25, 25), (120, 130, 135), (235, 235, 235), (0, 160, 230))


def random_occluder(rng: np.random.Generator) -> Occluder:
    """An occluder over a random character: any shape, side and colour, covering 35-100 % of it."""
    return Occluder(
        position=int(rng.integers(0, 7)),
        shape=str(rng.choice(OCCLUDER_SHAPES)),
        coverage=float(rng.uniform(0.35, 1.0)),
        side=str(rng.choice(OCCLUDER_SIDES)),
        colour=OCCLUDER_COLOURS[int(rng.integers(0, len(OCCLUDER_COLOURS)))],
    )


def _occlude(image: np.ndarray, box: tuple[int, int, int, int], occluder: Occluder, rng: np.random.Generator) -> None:
    """Paint `occluder` over the glyph box (x, y, w, h) of `image` (BGR, drawn at 4x)."""
    x, y, w, h = box
    cover_w = max(1, round(occluder.coverage * w))
    cover_h = max(1, round(occluder.coverage * h))
    pad = round(0.08 * h)  # dirt spills a little beyond the glyph
    if occluder.side == "left":
        x0, y0, x1, y1 = x - pad, y - pad, x + cover_w, y + h + pad
    elif occluder.side == "right":
        x0, y0, x1, y1 = x + w - cover_w, y - pad, x + w + pad, y + h + pad
    elif occluder.side == "top":
        x0, y0, x1, y1 = x - pad, y - pad, x + w + pad, y + cover_h
    elif occluder.side == "bottom":
        x0, y0, x1, y1 = x - pad, y + h - cover_h, x + w + pad, y + h + pad
    else:
        x0, y0 = x + (w - cover_w) // 2, y + (h - cover_h) // 2
        x1, y1 = x0 + cover_w, y0 + cover_h
    colour = tuple(int(c) for c in occluder.colour)
    if occluder.shape == "rect":
        cv2.rectangle(image, (x0, y0), (x1, y1), colour, -1)
    elif occluder.shape == "ellipse":
        middle = ((x0 + x1) // 2, (y0 + y1) // 2)
        cv2.ellipse(image, middle, (max(1, (x1 - x0) // 2), max(1, (y1 - y0) // 2)), 0, 0, 360, colour, -1)
    else:  # a splash: a polygon with a ragged rim
        centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        radii = np.array([(x1 - x0) / 2, (y1 - y0) / 2])
        angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        rim = rng.uniform(0.75, 1.15, angles.size)[:, None] * np.column_stack((np.cos(angles), np.sin(angles)))
        cv2.fillPoly(image, [np.round(centre + rim * radii).astype(np.int32)], colour)


@dataclass(frozen=True)
class Frame:
    image_bgr: np.ndarray
    plate: str  # ground truth, normalised; "" when the frame carries no plate
    char_height_px: int
    degradation: Degradation
    occluders: tuple[Occluder, ...] = ()  # what covers the plate's characters, if anything


def random_siv_plate(rng: np.random.Generator) -> str:
    """A normalised SIV plate such as `GZ123QK` (never I, O or U)."""
    letters = [SIV_LETTERS[i] for i in rng.integers(0, len(SIV_LETTERS), 4)]
    digits = [DIGITS[i] for i in rng.integers(0, 10, 3)]
    return "".join(letters[:2] + digits + letters[2:])


def random_degradation(rng: np.random.Generator) -> Degradation:
    """The acceptance envelope: blur, ±4° rotation, JPEG 40–90, dim exposure, sensor noise."""
    motion = bool(rng.random() < 0.4)
    return Degradation(
        rotation_deg=float(rng.uniform(-4.0, 4.0)),
        gaussian_sigma=0.0 if motion else float(rng.uniform(0.3, 1.3)),
        motion_px=int(rng.integers(3, 6)) if motion else 0,
        motion_angle_deg=float(rng.uniform(-15.0, 15.0)),
        exposure=float(rng.choice([1.0, rng.uniform(0.35, 0.7)])),
        noise_sigma=float(rng.uniform(1.0, 4.0)),
        jpeg_quality=int(rng.integers(40, 91)),
    )


def _text_image(text: str, font_name: str, height_px: int, width_px: int) -> np.ndarray:
    """Black-on-white text, its ink box stretched to `width_px` x `height_px` (grey)."""
    face = font(font_name, 200)
    left, top, right, bottom = face.getbbox(text)
    canvas = Image.new("L", (int(right - left), int(bottom - top)), 255)
    ImageDraw.Draw(canvas).text((-left, -top), text, font=face, fill=0)
    return cv2.resize(np.asarray(canvas), (width_px, height_px), interpolation=cv2.INTER_AREA)


def _plate_text_image(
    plate: str, font_name: str, char_height_px: int, width_px: int
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """`AB-123-CD` set like a plate: every character exactly `char_height_px` high (no descenders),
    a small even gap between characters and a mid-height dash between the groups (grey); and the
    x span of each character in it."""
    gap = np.full((200, 24), 255, np.uint8)
    dash = np.full((200, 80), 255, np.uint8)
    dash[84:118, 10:70] = 0
    parts: list[np.ndarray] = []
    spans: list[tuple[int, int]] = []
    x = 0
    for index, char in enumerate(plate):
        if index in (2, 5):
            parts += [dash, gap]
            x += dash.shape[1] + gap.shape[1]
        glyph = plate_glyph(char, font_name, 200)
        spans.append((x, x + glyph.shape[1]))
        parts += [glyph, gap]
        x += glyph.shape[1] + gap.shape[1]
    strip = np.hstack(parts[:-1])
    scale = width_px / strip.shape[1]
    spans = [(round(left * scale), round(right * scale)) for left, right in spans]
    return cv2.resize(strip, (width_px, char_height_px), interpolation=cv2.INTER_AREA), spans


def render_plate(
    plate: str,
    char_height_px: int,
    font_name: str = _FONT_FILES[0],
    occluders: tuple[Occluder, ...] = (),
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """The plate alone (BGR), `AB-123-CD` on white between the two blue bands, drawn at 4x then reduced;
    `occluders` are painted over their characters (`rng` shapes the splashes)."""
    if not is_french_siv(plate):
        raise ValueError(f"not a normalised French SIV plate: {plate!r}")
    scale = 4
    mm = char_height_px * scale / CHAR_MM  # pixels per millimetre while drawing
    width, height = round(PLATE_MM[0] * mm), round(PLATE_MM[1] * mm)
    band = round(BAND_MM * mm)
    image = np.full((height, width, 3), 250, np.uint8)
    image[:, :band] = _EU_BLUE
    image[:, width - band :] = _EU_BLUE
    cv2.rectangle(image, (0, 0), (width - 1, height - 1), (20, 20, 20), max(2, round(2.5 * mm)))
    # EU band: a ring of twelve yellow stars over a white "F".
    centre, radius = (band // 2, round(height * 0.33)), round(band * 0.3)
    for k in range(12):
        angle = 2 * np.pi * k / 12
        star = (round(centre[0] + radius * np.cos(angle)), round(centre[1] + radius * np.sin(angle)))
        cv2.circle(image, star, max(1, round(1.6 * mm)), (0, 204, 255), -1)
    letter = _text_image("F", "DejaVuSans-Bold.ttf", round(25 * mm), round(16 * mm))
    y0, x0 = round(height * 0.62), (band - letter.shape[1]) // 2
    region = image[y0 : y0 + letter.shape[0], x0 : x0 + letter.shape[1]]
    region[letter < 128] = (255, 255, 255)
    # Regional band: a department number in white.
    department = _text_image("75", "DejaVuSans-Bold.ttf", round(18 * mm), round(26 * mm))
    y0, x0 = round(height * 0.6), width - band + (band - department.shape[1]) // 2
    region = image[y0 : y0 + department.shape[0], x0 : x0 + department.shape[1]]
    region[department < 128] = (255, 255, 255)
    text, spans = _plate_text_image(plate, font_name, round(CHAR_MM * mm), round(410 * mm))
    y0, x0 = (height - text.shape[0]) // 2, (width - text.shape[1]) // 2
    region = image[y0 : y0 + text.shape[0], x0 : x0 + text.shape[1]]
    np.minimum(region, text[:, :, None], out=region)
    for occluder in occluders:
        left, right = spans[occluder.position]
        _occlude(image, (x0 + left, y0, right - left, text.shape[0]), occluder, rng or np.random.default_rng(0))
    return cv2.resize(image, (width // scale, height // scale), interpolation=cv2.INTER_AREA)


def _draw_text(image: np.ndarray, text: str, origin: tuple[int, int], height_px: int, colour: tuple[int, ...]) -> None:
    """Anti-aliased text in `colour` (BGR) with its top-left ink corner near `origin`, clipped to the frame."""
    face = font("DejaVuSans-Bold.ttf", max(8, round(height_px / 0.73)))
    left, top, right, bottom = (int(v) for v in face.getbbox(text))
    mask = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(mask).text((-left, -top), text, font=face, fill=255)
    x, y = origin[0] + left, origin[1] + top
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + mask.width, image.shape[1]), min(y + mask.height, image.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    alpha = np.asarray(mask, np.float32)[y0 - y : y1 - y, x0 - x : x1 - x, None] / 255
    region = image[y0:y1, x0:x1]
    region[:] = (region * (1 - alpha) + np.asarray(colour, np.float32) * alpha).astype(np.uint8)


def _scene(rng: np.random.Generator, plate_box: tuple[int, int, int, int]) -> np.ndarray:
    """Road, car body, grille, badges, headlights and a dealer sticker around `plate_box` (x, y, w, h)."""
    width, height = FRAME_SIZE
    px, py, pw, ph = plate_box
    shade = np.linspace(rng.uniform(90, 140), rng.uniform(60, 100), height, dtype=np.float32)[:, None]
    road = rng.standard_normal((height, width), dtype=np.float32) * 6 + shade
    image = cv2.cvtColor(np.clip(road, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    body_colour = tuple(int(c) for c in rng.integers(20, 240, 3))
    body_top, body_bottom = int(rng.integers(20, 90)), height - int(rng.integers(0, 30))
    body_left, body_right = int(rng.integers(0, 60)), width - int(rng.integers(0, 60))
    cv2.rectangle(image, (body_left, body_top), (body_right, body_bottom), body_colour, -1)
    windscreen = (int(body_left + 60), body_top, int(body_right - 60), body_top + int(rng.integers(40, 70)))
    cv2.rectangle(image, windscreen[:2], windscreen[2:], (60, 55, 50), -1)
    grille_top = windscreen[3] + int(rng.integers(30, 60))
    grille_bottom = max(grille_top + 40, py - int(rng.integers(15, 40)))
    grille_left, grille_right = px - int(rng.integers(10, 60)), px + pw + int(rng.integers(10, 60))
    cv2.rectangle(image, (grille_left, grille_top), (grille_right, grille_bottom), (35, 35, 35), -1)
    for y in range(grille_top + 8, grille_bottom - 4, 12):
        cv2.line(image, (grille_left + 6, y), (grille_right - 6, y), (90, 90, 90), 2)
    for side in (-1, 1):
        centre_x = (grille_left if side < 0 else grille_right) + side * int(rng.integers(70, 110))
        cv2.ellipse(image, (centre_x, (grille_top + grille_bottom) // 2), (55, 25), 0, 0, 360, (225, 230, 235), -1)
        cv2.ellipse(image, (centre_x, (grille_top + grille_bottom) // 2), (55, 25), 0, 0, 360, (40, 40, 40), 3)
    brand = str(rng.choice(_BRANDS))
    brand_height = int(rng.integers(18, 32))
    brand_x = (grille_left + grille_right) // 2 - brand_height * len(brand) // 3
    _draw_text(
        image, brand, (brand_x, (grille_top + grille_bottom) // 2 - brand_height // 2), brand_height, (200, 200, 205)
    )
    dark_on_body = (20, 20, 20) if sum(body_colour) > 300 else (230, 230, 230)
    model_x = int(rng.integers(body_left + 10, max(body_left + 11, width // 2 - 200)))
    model_y = int(rng.integers(grille_bottom + 5, height - 60))
    if not (px - 200 < model_x < px + pw and py - 40 < model_y < py + ph + 40):
        _draw_text(image, str(rng.choice(_MODELS)), (model_x, model_y), int(rng.integers(14, 30)), dark_on_body)
    # Dealer sticker under the plate: dark text on a white card, the classic plate-reader trap.
    dealer = str(rng.choice(_DEALERS))
    sticker_y = py + ph + int(rng.integers(6, 16))
    if sticker_y + 26 < height:
        sticker_h = int(rng.integers(14, 22))
        cv2.rectangle(image, (px, sticker_y), (px + pw, sticker_y + sticker_h + 8), (245, 245, 245), -1)
        _draw_text(image, dealer, (px + 6, sticker_y + 2), sticker_h - 2, (30, 30, 30))
    return image


def _degrade(image: np.ndarray, degradation: Degradation, rng: np.random.Generator) -> np.ndarray:
    d = degradation
    height, width = image.shape[:2]
    if d.rotation_deg:
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), d.rotation_deg, 1.0)
        image = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if d.gaussian_sigma:
        image = cv2.GaussianBlur(image, (0, 0), d.gaussian_sigma)
    if d.motion_px:
        kernel: np.ndarray = np.zeros((d.motion_px, d.motion_px), np.float32)
        kernel[d.motion_px // 2, :] = 1.0
        centre = ((d.motion_px - 1) / 2, (d.motion_px - 1) / 2)
        kernel = cv2.warpAffine(kernel, cv2.getRotationMatrix2D(centre, d.motion_angle_deg, 1.0), kernel.shape)
        image = cv2.filter2D(image, -1, kernel / kernel.sum())
    pixels: np.ndarray = image.astype(np.float32)
    pixels *= np.float32(d.exposure)
    if d.noise_sigma:  # luminance noise, shared by the three channels
        pixels += rng.standard_normal((*pixels.shape[:2], 1), dtype=np.float32) * np.float32(d.noise_sigma)
    image = np.clip(pixels, 0, 255, out=pixels).astype(np.uint8)
    if d.jpeg_quality is not None:
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, d.jpeg_quality])
        decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if ok else None
        if decoded is None:
            raise RuntimeError("OpenCV could not round-trip the frame through JPEG")
        image = decoded
    return image


def render_frame(
    plate: str | None,
    rng: np.random.Generator,
    char_height_px: int = 40,
    degradation: Degradation | None = None,
    font_name: str = _FONT_FILES[0],
    occluders: tuple[Occluder, ...] = (),
) -> Frame:
    """A vehicle-front frame (BGR, FRAME_SIZE) carrying `plate` (with `occluders` over some of its
    characters), or an empty plate holder when None."""
    width, height = FRAME_SIZE
    plate_h = round(PLATE_MM[1] * char_height_px / CHAR_MM)
    plate_w = round(PLATE_MM[0] * char_height_px / CHAR_MM)
    if not 8 <= char_height_px <= MAX_CHAR_HEIGHT_PX:
        raise ValueError(f"char_height_px must be 8..{MAX_CHAR_HEIGHT_PX} for a {width}x{height} frame")
    px = int(rng.integers(40, width - plate_w - 40))
    py = int(rng.integers(height // 2, height - plate_h - 50))
    image = _scene(rng, (px, py, plate_w, plate_h))
    if plate is not None:
        plate_image = render_plate(plate, char_height_px, font_name, occluders, rng)
        image[py : py + plate_image.shape[0], px : px + plate_image.shape[1]] = plate_image
    else:  # a bare black plate holder
        cv2.rectangle(image, (px, py), (px + plate_w, py + plate_h), (25, 25, 25), -1)
    degradation = degradation or Degradation()
    return Frame(_degrade(image, degradation, rng), plate or "", char_height_px, degradation, occluders)


def frame_matrix(
    count: int, seed: int, char_heights: tuple[int, int] = (35, 60), no_plate_every: int = 0
) -> Iterator[Frame]:
    """`count` seeded frames across the acceptance envelope; every `no_plate_every`-th carries no plate."""
    rng = np.random.default_rng(seed)
    for index in range(count):
        blank = no_plate_every > 0 and index % no_plate_every == no_plate_every - 1
        plate = None if blank else random_siv_plate(rng)
        char_height = int(rng.integers(char_heights[0], char_heights[1] + 1))
        font_name = _FONT_FILES[int(rng.integers(0, len(_FONT_FILES)))]
        yield render_frame(plate, rng, char_height, random_degradation(rng), font_name)


def occluded_matrix(count: int, seed: int, char_heights: tuple[int, int] = (35, 60)) -> Iterator[Frame]:
    """`count` seeded plates across the acceptance envelope, each with one `random_occluder`."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        plate = random_siv_plate(rng)
        char_height = int(rng.integers(char_heights[0], char_heights[1] + 1))
        font_name = _FONT_FILES[int(rng.integers(0, len(_FONT_FILES)))]
        occluder = random_occluder(rng)
        yield render_frame(plate, rng, char_height, random_degradation(rng), font_name, (occluder,))
