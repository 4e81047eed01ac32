"""Camera frames for the evidence: the port the agent asks for a frame, and a folder of files."""

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class Frame:
    """A camera frame: the evidence JPEG as stored and the decoded image for the plate reader."""

    jpeg: bytes
    image_bgr: np.ndarray


class Camera(Protocol):
    def frame_at(self, t_ms: int) -> Frame | None:
        """The frame that shows the vehicle measured at stream time `t_ms`, None when there is none."""
        ...


class DirectoryCamera:
    """Frames from a folder (recordings, or a camera that drops files).

    Files named by an integer (`1234.jpg`: ms since the first IQ sample) are matched to the pass by
    nearest time within `max_skew_ms`; otherwise the frames are used one per violation in name order.
    """

    def __init__(self, directory: Path, max_skew_ms: int = 1500) -> None:
        self.directory = directory
        self.max_skew_ms = max_skew_ms
        self._used: set[Path] = set()

    def _files(self) -> list[Path]:
        return sorted(path for path in self.directory.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)

    def frame_at(self, t_ms: int) -> Frame | None:
        files = [path for path in self._files() if path not in self._used]
        timed = [path for path in files if path.stem.isdigit()]
        if timed:
            nearest = min(timed, key=lambda path: abs(int(path.stem) - t_ms))
            chosen = nearest if abs(int(nearest.stem) - t_ms) <= self.max_skew_ms else None
        else:
            chosen = files[0] if files else None
        if chosen is None:
            return None
        self._used.add(chosen)
        return load_frame(chosen)


def load_frame(path: Path) -> Frame:
    import cv2

    data = path.read_bytes()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    if path.suffix.lower() == ".png":
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        if not ok:
            raise ValueError(f"{path}: cannot encode as JPEG")
        data = encoded.tobytes()
    return Frame(data, image)
