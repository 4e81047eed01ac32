"""`RadarAgent`: the portable radar decisions (`edge.core.radar.Radar`) with a camera and a plate reader."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from speedledger.edge.agent.camera import Camera, Frame
from speedledger.edge.core.config import ConfigState
from speedledger.edge.core.journal import Journal
from speedledger.edge.core.outbox import Outbox
from speedledger.edge.core.ports import Signer, TimeSync
from speedledger.edge.core.radar import Radar

if TYPE_CHECKING:
    from speedledger.edge.plates import PlateReader

log = logging.getLogger(__name__)


class RadarAgent(Radar):
    """Decides, signs and journals violations (and passages, for a section) with their evidence; routes
    acks and config from central."""

    def __init__(
        self,
        radar_id: str,
        firmware: str,
        signer: Signer,
        journal: Journal,
        outbox: Outbox,
        config: ConfigState,
        camera: Camera | None = None,
        plate_reader: PlateReader | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
        time_sync: TimeSync | None = None,
    ) -> None:
        super().__init__(radar_id, firmware, signer, journal, outbox, config, log, random_bytes, time_sync)
        self.camera = camera
        self.plate_reader = plate_reader

    def evidence(self, t_ms: int) -> tuple[str, int, bytes]:
        frame = self._capture(t_ms)
        plate, plate_confidence_pm = self._read_plate(frame)
        return plate, plate_confidence_pm, frame.jpeg if frame is not None else b""

    # A camera or OCR failure must not cost the measurement: the violation goes out without a
    # picture or with an unread plate (central makes it `unidentified`), and the failure is logged.
    def _capture(self, t_ms: int) -> Frame | None:
        if self.camera is None:
            return None
        try:
            return self.camera.frame_at(t_ms)
        except (OSError, ValueError) as error:
            log.error("camera frame for the pass at %d ms unusable: %s", t_ms, error)
            return None

    def _read_plate(self, frame: Frame | None) -> tuple[str, int]:
        """(normalised plate, confidence per mille); ("", 0) when there is no frame or reader."""
        if frame is None or self.plate_reader is None:
            return "", 0
        try:
            read = self.plate_reader.read(frame.image_bgr)
        except Exception:
            log.exception("plate reader failed; the violation is sent with an unread plate")
            return "", 0
        return read.plate, read.confidence_pm
