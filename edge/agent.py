"""The radar agent on a Linux-class board: IQ in, signed and delivered violations out.

    source (IQ WAV or live PCM on stdin) -> DopplerProcessor -> VehiclePass
      -> speed policy (central-signed limit) -> camera frame -> plate reader
      -> violation (seq from the journal) -> Ed25519 signature -> journal (fsync) -> Outbox -> MQTT

`RadarAgent` holds the decisions and is driven by `run`, the loop behind `speedledger edge run`.
A violation is published only after it is in the journal, so a crash or power cut anywhere after
the signature loses nothing; the journal is the single source of what still has to reach central.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from speedledger.edge.core.config import ConfigError, ConfigState, StaleConfig
from speedledger.edge.core.journal import Journal, sync_directory
from speedledger.edge.core.outbox import Outbox
from speedledger.edge.core.tracker import VehiclePass
from speedledger.edge.core.violation import SpeedPolicy, build, payload, sign, snr_cdb, speed_ckmh, uuid7
from speedledger.edge.mqtt_transport import MqttTransport, TransportEvent
from speedledger.edge.signing import Signer, verify
from speedledger.shared import topics

if TYPE_CHECKING:
    from speedledger.edge.plates import PlateReader

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
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


@dataclass
class AgentStats:
    passes: int = 0
    invalid_passes: int = 0
    violations: int = 0
    configs_applied: int = 0
    configs_refused: int = 0
    rejected: list[str] = field(default_factory=list)


class RadarAgent:
    """Decides, signs and journals violations; routes acks and config from central."""

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
    ) -> None:
        self.radar_id = radar_id
        self.firmware = firmware
        self.signer = signer
        self.journal = journal
        self.outbox = outbox
        self.config = config
        self.camera = camera
        self.plate_reader = plate_reader
        self.random_bytes = random_bytes
        self.stats = AgentStats()

    def on_pass(self, vehicle_pass: VehiclePass, detected_at_ms: int) -> dict[str, object] | None:
        """Journal a signed violation for a valid pass over the limit; returns the message or None."""
        self.stats.passes += 1
        if not vehicle_pass.valid:
            self.stats.invalid_passes += 1
            log.info("pass at %d ms not used: %s", vehicle_pass.t_ms, vehicle_pass.invalid)
            return None
        measured = speed_ckmh(vehicle_pass.speed_kmh)
        policy = self.config.policy
        if not policy.is_violation(measured):
            return None
        frame = self._capture(vehicle_pass.t_ms)
        plate, plate_confidence_pm = self._read_plate(frame)
        seq = self.journal.next_seq
        message = sign(
            build(
                event_id=uuid7(detected_at_ms, self.random_bytes(10)),
                radar_id=self.radar_id,
                seq=seq,
                detected_at_ms=detected_at_ms,
                speed_limit_kmh=policy.speed_limit_kmh,
                measured_speed_ckmh=measured,
                direction=vehicle_pass.direction,
                plate=plate,
                plate_confidence_pm=plate_confidence_pm,
                image_sha256=hashlib.sha256(frame.jpeg).hexdigest() if frame is not None else "",
                snr_cdb=snr_cdb(vehicle_pass.snr_db),
                frames=vehicle_pass.frames,
                firmware=self.firmware,
                key_id=self.signer.key_id,
            ),
            self.signer,
        )
        self.journal.append(str(message["event_id"]), seq, payload(message), frame.jpeg if frame is not None else b"")
        self.stats.violations += 1
        return message

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

    def on_message(self, topic: str, body: bytes) -> None:
        if topic == topics.acks(self.radar_id):
            ack = self.outbox.on_ack(body)
            if ack is not None and ack.result == "rejected":
                self.stats.rejected.append(ack.event_id)
                log.error("central rejected %s (seq %d): %s", ack.event_id, ack.seq, ack.reason)
        elif topic == topics.config(self.radar_id):
            self.apply_config(body, persist=True)

    def apply_config(self, body: bytes, persist: bool) -> bool:
        try:
            self.config.apply(body)
        except StaleConfig:
            log.debug("config not newer than the one in force (retained copy after a reconnect)")
            return False
        except ConfigError as error:
            self.stats.configs_refused += 1
            log.warning("config refused: %s", error)
            return False
        self.stats.configs_applied += 1
        log.info("config applied: limit %d km/h", self.config.policy.speed_limit_kmh)
        if persist:
            _write_atomically(Path(self.journal.directory) / CONFIG_FILE, body)
        return True


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    sync_directory(str(path.parent))


def wav_source(path: Path, chunk_s: float = 0.1) -> tuple[float, Iterator[np.ndarray]]:
    """Sample rate and complex IQ chunks of a two-channel WAV (left I, right Q)."""
    from speedledger.edge.dsp import read_iq_wav

    rate, iq = read_iq_wav(path)
    step = max(1, int(rate * chunk_s))
    return float(rate), (iq[start : start + step] for start in range(0, iq.size, step))


def pcm_stdin_source(sample_rate: float, chunk_s: float = 0.1) -> Iterator[np.ndarray]:
    """Live IQ: interleaved 16-bit little-endian stereo PCM (left I, right Q) on stdin, e.g. from arecord."""
    frame_bytes = 4
    step = max(1, int(sample_rate * chunk_s)) * frame_bytes
    descriptor = sys.stdin.fileno()
    carry = b""
    while True:
        # os.read, not sys.stdin.buffer: a thread blocked in a buffered read wedges interpreter exit.
        data = os.read(descriptor, step)
        if not data:
            return
        carry += data
        usable = len(carry) - len(carry) % frame_bytes
        if usable:
            samples = np.frombuffer(carry[:usable], dtype="<i2").astype(np.float32) / 32768.0
            carry = carry[usable:]
            yield (samples[0::2] + 1j * samples[1::2]).astype(np.complex64)


def _without_stalling(chunks: Iterator[np.ndarray], wait_s: float = 0.1) -> Iterator[np.ndarray | None]:
    """Read a blocking source in a thread; yield None whenever nothing arrived for `wait_s`."""
    arrived: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=64)

    def read() -> None:
        try:
            for chunk in chunks:
                arrived.put(chunk)
        finally:
            arrived.put(None)  # end of the source

    threading.Thread(target=read, name="iq-source", daemon=True).start()
    while True:
        try:
            chunk = arrived.get(timeout=wait_s)
        except queue.Empty:
            yield None
            continue
        if chunk is None:
            return
        yield chunk


@dataclass
class RunOptions:
    radar_id: str
    key_file: Path
    mqtt_url: str
    journal_dir: Path
    speed_limit_kmh: int = 90
    central_key: bytes | None = None
    firmware: str = "speedledger-edge/0.1.0"
    source: str | None = None
    sample_rate: float | None = None
    camera_dir: Path | None = None
    read_plates: bool = True
    carrier_hz: float = 24.125e9
    angle_deg: float = 0.0
    start_ms: int | None = None
    realtime: bool = False
    drain_timeout_s: float = 30.0


class AgentLoop:
    """Single-threaded loop: source chunks, transport events and the outbox, in turn."""

    def __init__(self, agent: RadarAgent, transport: MqttTransport, stop: threading.Event | None = None) -> None:
        self.agent = agent
        self.transport = transport
        #: Set (e.g. by a signal handler) to end the run at the next chunk or pump.
        self.stop = stop if stop is not None else threading.Event()

    def pump(self, wait_s: float = 0.0) -> None:
        """Handle every queued transport event (waiting up to `wait_s` for the first), then publish what is due."""
        try:
            event: TransportEvent | None = self.transport.events.get(timeout=wait_s) if wait_s else None
        except queue.Empty:
            event = None
        while True:
            if event is None:
                try:
                    event = self.transport.events.get_nowait()
                except queue.Empty:
                    break
            self._handle(event)
            event = None
        self.agent.outbox.poll(monotonic_ms())

    def _handle(self, event: TransportEvent) -> None:
        if event.kind == "connected":
            self.agent.outbox.on_connect(monotonic_ms())
        elif event.kind == "disconnected":
            self.agent.outbox.on_disconnect()
        else:
            self.agent.on_message(event.topic, event.payload)

    def drain(self, timeout_s: float) -> bool:
        """Keep delivering until every journaled event is acked (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout_s
        while self.agent.journal.pending():
            if time.monotonic() >= deadline or self.stop.is_set():
                return False
            self.pump(wait_s=0.05)
        return True


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


def run(
    options: RunOptions,
    report: Callable[[dict[str, object]], None] = lambda message: None,
    stop: threading.Event | None = None,
) -> RadarAgent:
    """`speedledger edge run`: process the source (if any), then deliver until drained, timed out or stopped."""
    from speedledger.edge.signing import load_signer

    signer = load_signer(options.key_file)
    options.journal_dir.mkdir(parents=True, exist_ok=True)
    journal = Journal(str(options.journal_dir))
    for damage in journal.damage:
        log.error("journal: %d bytes at offset %d refused (%s), kept in %s", damage.length, damage.offset,
                  damage.reason, damage.saved_as)  # fmt: skip
    transport = MqttTransport(options.mqtt_url, options.radar_id, options.firmware)
    config = ConfigState(options.radar_id, SpeedPolicy(options.speed_limit_kmh), options.central_key, verify)
    plate_reader = None
    if options.camera_dir is not None and options.read_plates:
        from speedledger.edge.plates.tesseract import TesseractPlateReader

        plate_reader = TesseractPlateReader()
    agent = RadarAgent(
        options.radar_id,
        options.firmware,
        signer,
        journal,
        Outbox(journal, options.radar_id, transport),
        config,
        camera=DirectoryCamera(options.camera_dir) if options.camera_dir is not None else None,
        plate_reader=plate_reader,
    )
    saved_config = options.journal_dir / CONFIG_FILE
    if saved_config.exists():
        agent.apply_config(saved_config.read_bytes(), persist=False)
    loop = AgentLoop(agent, transport, stop)
    transport.start()
    try:
        if options.source is not None:
            _process_source(options, agent, loop, report)
        loop.drain(options.drain_timeout_s)
    finally:
        transport.stop()
        journal.close()
    return agent


def _process_source(
    options: RunOptions, agent: RadarAgent, loop: AgentLoop, report: Callable[[dict[str, object]], None]
) -> None:
    from speedledger.edge.dsp import DopplerProcessor

    if options.source == "-":
        if options.sample_rate is None:
            raise ValueError("--sample-rate is required for live PCM on stdin")
        rate, chunks = options.sample_rate, _without_stalling(pcm_stdin_source(options.sample_rate))
    else:
        assert options.source is not None
        rate, chunks = wav_source(Path(options.source))
    processor = DopplerProcessor(rate, carrier_hz=options.carrier_hz, angle_deg=options.angle_deg)
    if processor.range_warning is not None:
        log.warning("%s", processor.range_warning)
    start_ms = options.start_ms if options.start_ms is not None else int(time.time() * 1000)
    started = time.monotonic()
    fed_samples = 0

    def handle(passes: list[VehiclePass]) -> None:
        for vehicle_pass in passes:
            message = agent.on_pass(vehicle_pass, start_ms + vehicle_pass.t_ms)
            if message is not None:
                report(message)

    for chunk in chunks:
        if loop.stop.is_set():
            return  # a vehicle in the beam right now is not measured; everything journaled stays
        if chunk is None:  # the live source is quiet: deliveries and acks go on meanwhile
            loop.pump(wait_s=0.05)
            continue
        handle(processor.feed(chunk))
        fed_samples += chunk.size
        loop.pump()
        if options.realtime:
            ahead = fed_samples / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    handle(processor.flush())
    loop.pump()
