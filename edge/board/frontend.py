"""Radar front end of the board: per-frame Doppler peaks over UART, grouped by the portable tracker.

An ESP32 cannot run the FFT chain of `speedledger.edge.dsp` at K-band sample rates, so the board
relies on a radar module that does its own FFT and reports, once per frame, its strongest peaks as
one text line: `speed_kmh snr_db` pairs separated by `;`, speeds signed (+ approaching), e.g.

    87.31 24.5;-12.02 11.0

`parse_frame` reads that line; adapt it to the module's own output format if it differs. The
grouping into vehicle passes (and every metrology rule about overlapping vehicles) is the same
`PassTracker` the Linux agent uses.
"""

from speedledger.edge.core.tracker import Detection, PassTracker, TrackerConfig


def parse_frame(line: bytes) -> list:
    """Detections of one frame; an empty list for an empty frame; ValueError for a garbled line."""
    text = line.decode().strip()
    detections: list = []
    if not text:
        return detections
    for pair in text.split(";"):
        fields = pair.split()
        if len(fields) != 2:
            raise ValueError("frame line needs 'speed snr' pairs")
        detections.append(Detection(float(fields[0]), float(fields[1])))
    return detections


class UartFrontEnd:
    """Feeds UART frame lines into a PassTracker; `poll(t_ms)` returns completed passes."""

    def __init__(self, uart: object, config: TrackerConfig | None = None) -> None:
        self.uart = uart
        self.tracker = PassTracker(config)
        self.garbled = 0
        self._partial = b""

    def poll(self, t_ms: int) -> list:
        """Frames received since the last call, stamped `t_ms` (call every few ms); closes quiet tracks."""
        passes: list = []
        frames = 0
        while self.uart.any():  # type: ignore[attr-defined]
            line = self.uart.readline()  # type: ignore[attr-defined]
            if not line:
                break
            if not line.endswith(b"\n"):
                self._partial += line
                continue
            line = self._partial + line
            self._partial = b""
            try:
                detections = parse_frame(line)
            except ValueError:
                self.garbled += 1
                continue
            passes.extend(self.tracker.update(t_ms, detections))
            frames += 1
        if not frames:
            # A module that stays silent without targets: time still passes, tracks must close.
            passes.extend(self.tracker.update(t_ms, []))
        return passes
