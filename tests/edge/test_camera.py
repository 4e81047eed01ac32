"""`DirectoryCamera`: a frame is a pass's evidence only when it cannot show another vehicle."""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from speedledger.edge.agent.camera import DirectoryCamera, Frame, untimed_frames
from speedledger.edge.core.tracker import SHARED_BEAM, VehiclePass
from speedledger.edge.dsp import DopplerProcessor
from speedledger.simulator.iq import Clutter, Scene, Vehicle, synthesise

SAMPLE_RATE = 24_000


def write_frames(directory: Path, *times_ms: int) -> dict[int, bytes]:
    """A distinct JPEG per time (its colour is the time's rank), named `<ms>.jpg`."""
    directory.mkdir(exist_ok=True)
    written = {}
    for rank, at_ms in enumerate(times_ms):
        colour = ((40 * rank + 20) % 256, rank // 256 % 256, rank % 256)
        ok, jpeg = cv2.imencode(".jpg", np.full((8, 8, 3), colour, np.uint8))
        assert ok
        (directory / f"{at_ms}.jpg").write_bytes(jpeg.tobytes())
        written[at_ms] = jpeg.tobytes()
    return written


def vehicle_pass(t_ms: int, invalid: str | None = None) -> VehiclePass:
    return VehiclePass(t_ms, 120.0, "approaching", 20.0, 30, t_ms - 400, t_ms + 400, invalid)


def jpeg(frame: Frame | None) -> bytes | None:
    return frame.jpeg if frame is not None else None


def test_a_missing_frame_gives_no_frame_not_the_next_vehicles(tmp_path: Path) -> None:
    frames = write_frames(tmp_path, 3400)
    camera = DirectoryCamera(tmp_path)
    first, second = vehicle_pass(3000), vehicle_pass(3400)
    # The first pass is out; the second vehicle is still in the beam (its track began at 3100).
    assert camera.release([first], horizon_ms=3100) == [], "held: 3400.jpg may be the next vehicle's"
    assert camera.release([second], horizon_ms=5000) == [first, second]
    assert camera.frame_at(first.t_ms) is None
    assert jpeg(camera.frame_at(second.t_ms)) == frames[3400]


def test_frames_of_two_close_passes_each_go_to_their_own(tmp_path: Path) -> None:
    frames = write_frames(tmp_path, 3000, 3350)
    camera = DirectoryCamera(tmp_path)
    first, second = vehicle_pass(3000), vehicle_pass(3350)
    assert camera.release([first], horizon_ms=3200) == []
    assert camera.release([second], horizon_ms=6000) == [first, second]
    assert jpeg(camera.frame_at(first.t_ms)) == frames[3000]
    assert jpeg(camera.frame_at(second.t_ms)) == frames[3350]


def test_an_invalid_pass_keeps_its_frame_from_its_neighbour(tmp_path: Path) -> None:
    """Every pass the tracker produced counts, reported or not."""
    write_frames(tmp_path, 5300)
    camera = DirectoryCamera(tmp_path)
    released = camera.release([vehicle_pass(5000), vehicle_pass(5300, SHARED_BEAM)], horizon_ms=9000)
    assert len(released) == 2
    assert camera.frame_at(5000) is None


def test_a_frame_about_as_near_to_two_passes_is_nobodys(tmp_path: Path) -> None:
    write_frames(tmp_path, 3180)
    camera = DirectoryCamera(tmp_path, min_lead_ms=200)
    camera.release([vehicle_pass(3000), vehicle_pass(3300)], horizon_ms=9000)
    assert camera.frame_at(3000) is None, "180 ms from one pass, 120 ms from the other"
    assert camera.frame_at(3300) is None, "nearer, but by less than the lead"


def test_a_pass_alone_takes_its_frame_once_no_vehicle_to_come_can_be_nearer(tmp_path: Path) -> None:
    frames = write_frames(tmp_path, 3300)
    camera = DirectoryCamera(tmp_path, max_skew_ms=500, min_lead_ms=200)
    alone = vehicle_pass(3000)
    assert camera.release([alone], horizon_ms=3700) == []  # a pass centred at 3700 would be as near
    assert camera.release([], horizon_ms=3800) == [alone]
    assert jpeg(camera.frame_at(alone.t_ms)) == frames[3300]


def test_a_frame_beyond_the_skew_bound_is_nobodys(tmp_path: Path) -> None:
    write_frames(tmp_path, 3600)
    camera = DirectoryCamera(tmp_path, max_skew_ms=500)
    alone = vehicle_pass(3000)
    assert camera.release([alone], horizon_ms=None) == [alone]
    assert camera.frame_at(alone.t_ms) is None


def test_stopping_releases_a_held_pass_without_the_frame_in_question(tmp_path: Path) -> None:
    write_frames(tmp_path, 3300)
    camera = DirectoryCamera(tmp_path)
    held = vehicle_pass(3000)
    assert camera.release([held], horizon_ms=3100) == []
    assert camera.release([], horizon_ms=3100, everything=True) == [held]
    assert camera.frame_at(held.t_ms) is None


def test_decisions_list_a_folder_of_many_frames_again_only_once_it_has_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live folder never cleaned: each decision costs a `stat`, not a listing of every frame it holds;
    a frame added later is found by the next decision (one more listing), with the same rules."""
    directory = tmp_path / "frames"
    frames = write_frames(directory, *range(0, 600_000, 300))  # 2000 frames, 300 ms apart
    past_ns = 1_000_000_000_000_000_000  # the folder last changed long ago
    os.utime(directory, ns=(past_ns, past_ns))
    listings: list[str] = []

    def counted(listing: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any) -> Any:
            listings.append(listing.__name__)
            return listing(*args)

        return wrapper

    monkeypatch.setattr(os, "scandir", counted(os.scandir))
    monkeypatch.setattr(os, "listdir", counted(os.listdir))
    camera = DirectoryCamera(directory, max_skew_ms=100, min_lead_ms=100)
    passes = [vehicle_pass(t_ms) for t_ms in range(30_000, 60_000, 3000)]
    assert camera.release(passes, horizon_ms=100_000) == passes
    assert [jpeg(camera.frame_at(p.t_ms)) for p in passes] == [frames[p.t_ms] for p in passes]
    assert len(listings) == 1
    late = write_frames(tmp_path / "late", 700_000)[700_000]
    (tmp_path / "late" / "700000.jpg").rename(directory / "700000.jpg")
    os.utime(directory, ns=(past_ns + 1, past_ns + 1))
    alone = vehicle_pass(700_050)
    assert camera.release([alone], horizon_ms=None) == [alone]
    assert jpeg(camera.frame_at(alone.t_ms)) == late
    assert len(listings) == 2


def test_untimed_frames_are_named(tmp_path: Path) -> None:
    write_frames(tmp_path, 3000)
    (tmp_path / "IMG_0001.jpg").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a frame")
    assert untimed_frames(tmp_path) == [tmp_path / "IMG_0001.jpg"]


def test_the_trackers_horizon_holds_a_pass_until_the_next_vehicle_is_known(tmp_path: Path) -> None:
    """Real IQ through the DSP, fed in 0.1 s chunks as `edge run` does: a vehicle 1.2 s behind the first
    (the first pass comes out before the second vehicle is seen), only its frame on disk, the skew bound
    wide enough for both: the first pass waits for the second, then gets no frame; the second its own."""
    scene = Scene(
        SAMPLE_RATE, 8.0, (Vehicle(131.0, 3.0, snr_db=14.0), Vehicle(95.0, 4.2, snr_db=14.0)), clutter=Clutter()
    )
    iq = synthesise(scene, np.random.default_rng(3))
    frames = write_frames(tmp_path, 4200)
    camera = DirectoryCamera(tmp_path, max_skew_ms=1500)
    processor = DopplerProcessor(SAMPLE_RATE)
    produced: list[list[int]] = []  # speeds, per batch the tracker returned
    released: list[list[int]] = []  # speeds, per batch the camera released
    evidence: dict[int, bytes | None] = {}  # speed -> frame, each asked as soon as its pass is released

    def decide(passes: list[VehiclePass], horizon_ms: int | None) -> None:
        if passes:
            produced.append([round(vehicle_pass.speed_kmh) for vehicle_pass in passes])
        decided = camera.release(passes, horizon_ms)
        if decided:
            released.append([round(vehicle_pass.speed_kmh) for vehicle_pass in decided])
        for vehicle_pass in decided:
            evidence[round(vehicle_pass.speed_kmh)] = jpeg(camera.frame_at(vehicle_pass.t_ms))

    step = SAMPLE_RATE // 10
    for start in range(0, iq.size, step):
        decide(processor.feed(iq[start : start + step]), processor.horizon_ms)
    decide(processor.flush(), None)
    assert produced == [[131], [95]]
    assert released == [[131, 95]]
    assert evidence == {131: None, 95: frames[4200]}


def test_no_pass_comes_out_centred_before_the_horizon_announced_earlier() -> None:
    """`horizon_ms` is a true lower bound: on a busy stream (vehicles sharing the beam, both directions,
    a slow one), every pass the tracker returns is centred at or after each horizon it gave before."""
    vehicles = (
        Vehicle(131.0, 1.5, snr_db=14.0),
        Vehicle(95.0, 1.9, snr_db=12.0),
        Vehicle(62.0, 3.5, approaching=False, snr_db=12.0),
        Vehicle(30.0, 5.0, snr_db=10.0),
        Vehicle(110.0, 5.3, snr_db=14.0),
        Vehicle(140.0, 8.0, snr_db=9.0),
    )
    iq = synthesise(Scene(SAMPLE_RATE, 10.0, vehicles, clutter=Clutter()), np.random.default_rng(5))
    processor = DopplerProcessor(SAMPLE_RATE)
    horizons: list[int] = [processor.horizon_ms]
    centres: list[tuple[int, int]] = []  # (pass centre, how many horizons were given before it came out)
    step = SAMPLE_RATE // 20
    for start in range(0, iq.size, step):
        centres += [(p.t_ms, len(horizons)) for p in processor.feed(iq[start : start + step])]
        horizons.append(processor.horizon_ms)
    centres += [(p.t_ms, len(horizons)) for p in processor.flush()]
    assert len(centres) >= 5
    assert horizons == sorted(horizons), "the horizon never goes back"
    for t_ms, announced in centres:
        assert t_ms >= max(horizons[:announced]), (t_ms, horizons[:announced])
