"""A roadside recording the radar agent can replay: IQ WAV plus camera frames named by time (ms)."""

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from speedledger.simulator.iq import Scene, synthesise, write_iq_wav
from speedledger.simulator.plates import render_frame


def write_recording(
    directory: Path,
    scene: Scene,
    plates: Sequence[str | None],
    seed: int,
    *,
    char_height_px: int = 48,
    jpeg_quality: int = 90,
) -> tuple[Path, Path]:
    """Write `roadside.wav` and `camera/{ms}.jpg`: one frame per vehicle with a plate (`plates` is
    aligned with `scene.vehicles`), at the time it crosses the beam centre. Returns (wav, camera)."""
    if len(plates) != len(scene.vehicles):
        raise ValueError("one plate (or None) per vehicle of the scene")
    wav = directory / "roadside.wav"
    write_iq_wav(wav, synthesise(scene, np.random.default_rng(seed)), int(scene.sample_rate))
    camera = directory / "camera"
    camera.mkdir()
    frame_rng = np.random.default_rng(seed)  # its own draws: frames do not change with the IQ length
    for vehicle, plate in zip(scene.vehicles, plates, strict=True):
        if plate is not None:
            frame = render_frame(plate, frame_rng, char_height_px=char_height_px)
            ok, jpeg = cv2.imencode(".jpg", frame.image_bgr, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
            if not ok:
                raise RuntimeError("JPEG encoding failed")
            (camera / f"{round(vehicle.centre_s * 1000)}.jpg").write_bytes(jpeg.tobytes())
    return wav, camera
