"""Plate reading on one core: exact reads, misreads and time per frame, against whole-frame Tesseract.

    .venv/bin/python bench/plate_bench.py [--frames 1000] [--seed 1] [--min-height 35] [--max-height 60]
                                          [--occluded 2000] [--occluded-seeds 2,3,4,5,6] [--clean-only]

Frames come from `speedledger.simulator.plates.frame_matrix` (the acceptance envelope: blur, ±4°
rotation, JPEG 40–90, dim exposure, sensor noise; every 10th frame an empty plate holder). The
process is pinned to one CPU and Tesseract's OpenMP to one thread. Time is CPU time per frame
(`time.process_time`, all threads), which a loaded machine does not inflate; wall time is shown too.

Baselines measured in the same run on the same frames:
- whole frame: the same in-process Tesseract (tesserocr) on the whole greyscale frame in sparse-text
  mode, keeping a plate when exactly one SIV-shaped string turns up (no localisation, no layout,
  no agreement): what the pipeline's accuracy is bought against;
- spawned: the `tesseract` command run once per frame on the same whole frame (what pytesseract
  does), on the first 40 frames: what the in-process binding saves;
- no evidence check: the same reader with `evidence.suspect_characters` and `glyphs.mismatched_glyphs`
  switched off, on the same clean frames (what the checks cost in exact reads) and on `--occluded`
  frames carrying one random occluder each (`simulator.plates.occluded_matrix`: dirt, tar, dust,
  paint or a sticker of any shape over 35-100 % of any character): the misreads the checks prevent. With the check, an
  occluded plate must be read exactly or not at all: the misread rate must be 0.
"""

import os

os.environ["OMP_THREAD_LIMIT"] = "1"  # one core, before Tesseract loads
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from unittest import mock

import cv2
import numpy as np
import tesserocr

from speedledger.edge.plates.port import FRENCH_SIV
from speedledger.edge.plates.tesseract import TesseractPlateReader, find_tessdata
from speedledger.simulator.plates import Frame, frame_matrix, occluded_matrix

_SIV_SHAPED = re.compile(r"\b([A-Z]{2})-?(\d{3})-?([A-Z]{2})\b")


@dataclass
class Tally:
    name: str
    exact: int = 0
    wrong: int = 0
    unread: int = 0
    invented: int = 0
    cpu_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    by_height: dict[str, list[int]] = field(default_factory=dict)  # band -> [exact, plates]

    def add(self, frame: Frame, plate: str, cpu_s: float, wall_s: float) -> None:
        self.cpu_ms.append(cpu_s * 1000)
        self.wall_ms.append(wall_s * 1000)
        if not frame.plate:
            self.invented += bool(plate)
            return
        band = self.by_height.setdefault(_band(frame.char_height_px), [0, 0])
        band[1] += 1
        if plate == frame.plate:
            self.exact += 1
            band[0] += 1
        elif plate:
            self.wrong += 1
        else:
            self.unread += 1

    def report(self, plates: int, blanks: int, baseline_cpu_ms: float | None = None) -> None:
        cpu = statistics.fmean(self.cpu_ms)
        ratio = f"  ({baseline_cpu_ms / cpu:.1f}x faster)" if baseline_cpu_ms else ""
        print(
            f"{self.name:<13} exact {self.exact}/{plates} = {100 * self.exact / plates:5.1f} %   "
            f"wrong {self.wrong}   unread {self.unread}   invented {self.invented}/{blanks}   "
            f"CPU {cpu:6.1f} ms/frame (p95 {np.percentile(self.cpu_ms, 95):6.1f})   "
            f"wall {statistics.fmean(self.wall_ms):6.1f} ms{ratio}"
        )
        bands = "   ".join(f"{band} px: {e}/{n}" for band, (e, n) in sorted(self.by_height.items()))
        print(f"{'':<13} by character height: {bands}")


def _band(height: int) -> str:
    low = 5 * (height // 5)
    return f"{low}-{low + 4}"


def _timed(read: Callable[[np.ndarray], str], frame: Frame) -> tuple[str, float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    plate = read(frame.image_bgr)
    return plate, time.process_time() - cpu, time.perf_counter() - wall


def _siv_in(text: str) -> str:
    found = {"".join(match) for match in _SIV_SHAPED.findall(text.upper())}
    found = {plate for plate in found if FRENCH_SIV.matches(plate)}
    return found.pop() if len(found) == 1 else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000, help="clean frames; 0: only the occluded ones, checked")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--min-height", type=int, default=35, help="smallest character height, px")
    parser.add_argument("--max-height", type=int, default=60, help="largest character height, px")
    parser.add_argument("--occluded", type=int, default=2000, help="frames with a covered character, per seed")
    parser.add_argument(
        "--occluded-seeds",
        type=lambda text: [int(seed) for seed in text.split(",")],
        help="seeds of the occluded frames, comma-separated (default: --seed + 1)",
    )
    parser.add_argument("--clean-only", action="store_true", help="the reader on clean frames only, no baselines")
    args = parser.parse_args()
    if not args.frames:  # occluded plates only: more seeds in another process
        occluded(TesseractPlateReader(), args)
        return

    frames = list(frame_matrix(args.frames, args.seed, (args.min_height, args.max_height), no_plate_every=10))
    plates = sum(1 for frame in frames if frame.plate)
    blanks = len(frames) - plates
    print(f"{len(frames)} frames ({plates} plates, {blanks} empty holders), seed {args.seed}, "
          f"characters {args.min_height}-{args.max_height} px, one CPU")  # fmt: skip

    reader = TesseractPlateReader()
    pipeline = Tally("pipeline")
    for frame in frames:
        pipeline.add(frame, *_timed(lambda image: reader.read(image).plate, frame))

    if args.clean_only:
        pipeline.report(plates, blanks)
        return
    whole = Tally("whole frame")
    api = tesserocr.PyTessBaseAPI(path=find_tessdata(), lang="eng", psm=tesserocr.PSM.SPARSE_TEXT)
    api.SetVariable("tessedit_char_whitelist", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")

    def whole_frame(image: np.ndarray) -> str:
        grey = np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
        api.SetImageBytes(grey.tobytes(), grey.shape[1], grey.shape[0], 1, grey.shape[1])
        return _siv_in(api.GetUTF8Text())

    for frame in frames:
        whole.add(frame, *_timed(whole_frame, frame))
    api.End()

    pipeline.report(plates, blanks)
    whole.report(plates, blanks)
    if shutil.which("tesseract"):
        spawned = Tally("spawned (40)")
        subset = frames[:40]

        def spawn(image: np.ndarray) -> str:
            _, png = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
            done = subprocess.run(
                ["tesseract", "stdin", "stdout", "--psm", "11", "-l", "eng", "--tessdata-dir", find_tessdata()],
                input=png.tobytes(),
                capture_output=True,
                check=False,
            )
            return _siv_in(done.stdout.decode())

        wall_start = time.perf_counter()
        for frame in subset:
            plate, _, wall = _timed(spawn, frame)
            spawned.add(frame, plate, wall, wall)  # a child's CPU is not ours: count its wall time
        wall_per_frame = (time.perf_counter() - wall_start) * 1000 / len(subset)
        in_process = statistics.fmean(whole.wall_ms[: len(subset)])
        print(f"spawned (40)  tesseract command per frame: {wall_per_frame:6.1f} ms wall vs in-process "
              f"{in_process:6.1f} ms wall on the same frames: {wall_per_frame / in_process:.1f}x")  # fmt: skip
    ratio = statistics.fmean(whole.cpu_ms) / statistics.fmean(pipeline.cpu_ms)
    print(f"pipeline CPU per frame = {1 / ratio:.2f}x whole-frame Tesseract's")
    occlusion(reader, frames, pipeline, args)


def occluded(reader: TesseractPlateReader, args: argparse.Namespace) -> dict[int, Tally]:
    """Occluded plates read with the evidence and glyph checks, seed by seed (`--occluded-seeds`);
    every misread is printed with what covers it."""
    checked: dict[int, Tally] = {}
    print(f"\n{args.occluded} occluded plates per seed, one covered character each:", flush=True)
    for seed in args.occluded_seeds or [args.seed + 1]:
        tally = checked[seed] = Tally(f"seed {seed}")
        for frame in occluded_matrix(args.occluded, seed, (args.min_height, args.max_height)):
            plate, cpu, wall = _timed(lambda image: reader.read(image).plate, frame)
            tally.add(frame, plate, cpu, wall)
            if plate and plate != frame.plate:
                print(f"  seed {seed}: {frame.plate} read {plate} under {frame.occluders}", flush=True)
        print(f"  {tally.name:<19} misread {tally.wrong} ({100 * tally.wrong / args.occluded:.2f} %)   "
              f"exact {tally.exact}   unread {tally.unread}", flush=True)  # fmt: skip
    total = len(checked) * args.occluded
    wrong = sum(tally.wrong for tally in checked.values())
    seeds = ", ".join(f"{seed}: {tally.wrong}" for seed, tally in checked.items())
    print(f"occluded plates misread with the checks: {wrong} of {total} ({100 * wrong / total:.3f} %); by seed {seeds}")
    return checked


def occlusion(reader: TesseractPlateReader, frames: list[Frame], pipeline: Tally, args: argparse.Namespace) -> None:
    """Occluded plates with the checks on every seed, without them on the first; what the checks cost
    on the clean frames."""
    first = next(iter(occluded(reader, args)))
    unchecked, unchecked_clean = Tally(f"seed {first}, no check"), Tally("clean, no check")
    with (
        mock.patch("speedledger.edge.plates.tesseract.suspect_characters", return_value=[]),
        mock.patch("speedledger.edge.plates.tesseract.mismatched_glyphs", return_value=[]),
    ):
        for frame in occluded_matrix(args.occluded, first, (args.min_height, args.max_height)):
            unchecked.add(frame, *_timed(lambda image: reader.read(image).plate, frame))
        for frame in frames:
            unchecked_clean.add(frame, *_timed(lambda image: reader.read(image).plate, frame))
    print(f"  {unchecked.name:<19} misread {unchecked.wrong} ({100 * unchecked.wrong / args.occluded:.2f} %)   "
          f"exact {unchecked.exact}   unread {unchecked.unread}")  # fmt: skip
    plates = sum(1 for frame in frames if frame.plate)
    ratio = pipeline.exact / max(1, unchecked_clean.exact)
    print(f"clean plates, exact: {pipeline.exact}/{plates} with the check, {unchecked_clean.exact}/{plates} without "
          f"(ratio {ratio:.3f}); misread {pipeline.wrong} with, {unchecked_clean.wrong} without")  # fmt: skip


if __name__ == "__main__":
    main()
