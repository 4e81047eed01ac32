"""Camera frames for the evidence: the port the agent asks for a frame, and a folder of files."""

import os
import time
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from speedledger.edge.core.tracker import VehiclePass

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


def untimed_frames(directory: Path) -> list[Path]:
    """The image files in `directory` not named by their time (`3000.jpg`), which no pass can claim."""
    return sorted(path for path in _images(directory) if not path.stem.isdigit())


def _images(directory: Path) -> Iterable[Path]:
    return (path for path in directory.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)


class DirectoryCamera:
    """Frames from a folder (recordings, or a camera that drops files), each named by its time: `3000.jpg`
    was taken 3000 ms after the first IQ sample. Other names are never used (the CLI refuses them).

    A frame is a pass's evidence only when it cannot show another vehicle. Among every pass the tracker
    produced (valid or not, reported or not: all go through `release`), the pass must be the one nearest
    to the frame, within `max_skew_ms`, and every other pass, known or still to come (the tracker's
    horizon says how early one can be centred), at least `min_lead_ms` further from it. Otherwise the
    pass gets no frame (no picture, no plate), as when its frame is missing: a missing frame never
    lends the neighbour's. `release` holds a pass only while a frame it could claim is still in question.
    """

    def __init__(self, directory: Path, max_skew_ms: int = 500, min_lead_ms: int = 200) -> None:
        self.directory = directory
        self.max_skew_ms = max_skew_ms
        self.min_lead_ms = min_lead_ms
        self._frames = _FrameIndex(directory, max_skew_ms)
        #: Centres (stream ms, sorted) of the passes a frame may still be weighed against.
        self._passes: list[int] = []
        self._held: list[VehiclePass] = []
        #: No pass still to come is centred before this (stream ms); None once the stream has ended.
        self._horizon_ms: int | None = 0

    def release(self, passes: list[VehiclePass], horizon_ms: int | None, everything: bool = False) -> list[VehiclePass]:
        """Take the passes the tracker just produced, none to come being centred before `horizon_ms` (None:
        the stream has ended); return, oldest first, the held passes whose frames are now decided, or
        every held pass when `everything` (the agent stops: a frame still in question is not used)."""
        for vehicle_pass in passes:
            insort(self._passes, vehicle_pass.t_ms)
        self._horizon_ms = horizon_ms
        held = sorted(self._held + passes, key=lambda vehicle_pass: vehicle_pass.t_ms)
        if everything or horizon_ms is None:
            released, self._held = held, []
        else:
            released = [
                p for p in held if all(self._owner(at_ms, p.t_ms) is not None for at_ms, _ in self._frames.near(p.t_ms))
            ]
            self._held = [p for p in held if p not in released]
        # Only passes this near to one still to be decided can weigh against its frames.
        oldest = min((p.t_ms for p in released + self._held), default=horizon_ms or 0)
        del self._passes[: bisect_left(self._passes, oldest - 2 * (self.max_skew_ms + self.min_lead_ms))]
        return released

    def frame_at(self, t_ms: int) -> Frame | None:
        claimed = [(abs(at_ms - t_ms), path) for at_ms, path in self._frames.near(t_ms) if self._owner(at_ms, t_ms)]
        return load_frame(min(claimed)[1]) if claimed else None

    def _owner(self, frame_ms: int, t_ms: int) -> bool | None:
        """Whether the frame at `frame_ms` can only show the vehicle of the pass at `t_ms`; None while a
        pass still to come could be as near to it."""
        distance = abs(frame_ms - t_ms)
        if distance > self.max_skew_ms:
            return False
        reach = distance + self.min_lead_ms  # another pass nearer than this makes the frame ambiguous
        near = self._passes[bisect_right(self._passes, frame_ms - reach) : bisect_left(self._passes, frame_ms + reach)]
        if t_ms in near:
            near.remove(t_ms)  # the pass itself (once: a second pass at the same time is another vehicle)
        if near:
            return False
        if self._horizon_ms is not None and self._horizon_ms - frame_ms < reach:
            return None
        return True


class _FrameIndex:
    """The folder's time-named frames, sorted by time. The folder is listed again only once it has changed
    (its modification time), and then only the names not seen before are parsed: a live folder never
    cleaned costs a decision one `stat`, not a listing and a parse of every frame it ever held."""

    #: A listing made this soon after the folder's last change may have missed a file added in the same
    #: tick of its modification time (one second on some filesystems): it is made again at the next call.
    _SETTLING_NS = 2_000_000_000

    def __init__(self, directory: Path, max_skew_ms: int) -> None:
        self.directory = directory
        self.max_skew_ms = max_skew_ms
        #: Every name in the folder at the last listing, and (time, path) of those that are frames.
        self._seen: set[str] = set()
        self._frames: dict[str, tuple[int, Path]] = {}
        self._sorted: list[tuple[int, Path]] = []
        #: The folder's modification time when it was last listed, None when that listing is not to be trusted.
        self._listed_mtime_ns: int | None = None

    def near(self, t_ms: int) -> list[tuple[int, Path]]:
        """(time, path) of the frames within `max_skew_ms` of `t_ms` (no other frame can be a pass's)."""
        self._refresh()
        low = bisect_left(self._sorted, t_ms - self.max_skew_ms, key=lambda frame: frame[0])
        high = bisect_right(self._sorted, t_ms + self.max_skew_ms, key=lambda frame: frame[0])
        return self._sorted[low:high]

    def _refresh(self) -> None:
        mtime_ns = os.stat(self.directory).st_mtime_ns
        if mtime_ns == self._listed_mtime_ns:
            return
        with os.scandir(self.directory) as entries:
            names = {entry.name for entry in entries}
        gone = [self._frames.pop(name) for name in self._seen - names if name in self._frames]
        added = False
        for name in names - self._seen:
            path = self.directory / name
            if path.stem.isdigit() and path.suffix.lower() in IMAGE_SUFFIXES:
                self._frames[name] = (int(path.stem), path)
                added = True
        self._seen = names
        if gone or added:
            self._sorted = sorted(self._frames.values())
        settled = time.time_ns() - mtime_ns >= self._SETTLING_NS
        self._listed_mtime_ns = mtime_ns if settled else None


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
