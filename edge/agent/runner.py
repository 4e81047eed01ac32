"""`speedledger edge run`: wire the agent to its key, journal, transport, camera and IQ source, then run it.

The source is processed (if any), then the agent keeps delivering until the journal is drained, the
timeout passes or it is stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from speedledger.edge.agent.camera import DirectoryCamera
from speedledger.edge.agent.loop import AgentLoop
from speedledger.edge.agent.radar_agent import RadarAgent
from speedledger.edge.agent.sources import pcm_stdin_source, wav_source, without_stalling
from speedledger.edge.agent.timesync import FixedTimeSync, KernelTimeSync
from speedledger.edge.core.config import ConfigState
from speedledger.edge.core.journal import Journal
from speedledger.edge.core.outbox import Outbox
from speedledger.edge.core.tracker import VehiclePass
from speedledger.edge.core.violation import SpeedPolicy
from speedledger.edge.mqtt_transport import MqttTransport
from speedledger.edge.signing import load_signer, verify

log = logging.getLogger(__name__)


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
    #: The clock's error bound reported in passages; None: the kernel's NTP state (`KernelTimeSync`).
    clock_uncertainty_ms: int | None = None
    #: The broker password (from a file or SPEEDLEDGER_MQTT_PASSWORD, never on the command line).
    mqtt_password: str | None = None


def run(
    options: RunOptions,
    report: Callable[[dict[str, object]], None] = lambda message: None,
    stop: threading.Event | None = None,
) -> RadarAgent:
    """`speedledger edge run`: process the source (if any), then deliver until drained, timed out or stopped."""
    signer = load_signer(options.key_file)
    options.journal_dir.mkdir(parents=True, exist_ok=True)
    journal = Journal(str(options.journal_dir))
    for damage in journal.damage:
        log.error("journal: %d bytes at offset %d refused (%s), kept in %s", damage.length, damage.offset,
                  damage.reason, damage.saved_as)  # fmt: skip
    transport = MqttTransport(options.mqtt_url, options.radar_id, options.firmware, password=options.mqtt_password)
    config = ConfigState(options.radar_id, SpeedPolicy(options.speed_limit_kmh), options.central_key, verify)
    plate_reader = None
    if options.camera_dir is not None and options.read_plates:
        from speedledger.edge.plates.tesseract import TesseractPlateReader

        plate_reader = TesseractPlateReader()
    camera = DirectoryCamera(options.camera_dir) if options.camera_dir is not None else None
    agent = RadarAgent(
        options.radar_id,
        options.firmware,
        signer,
        journal,
        Outbox(journal, options.radar_id, transport),
        config,
        camera=camera,
        plate_reader=plate_reader,
        time_sync=(
            KernelTimeSync() if options.clock_uncertainty_ms is None else FixedTimeSync(options.clock_uncertainty_ms)
        ),
    )
    agent.load_saved_config()
    loop = AgentLoop(agent, transport, stop)
    transport.start()
    try:
        if options.source is not None:
            _process_source(options, agent, camera, loop, report)
        loop.drain(options.drain_timeout_s)
    finally:
        transport.stop()
        journal.close()
    return agent


def _process_source(
    options: RunOptions,
    agent: RadarAgent,
    camera: DirectoryCamera | None,
    loop: AgentLoop,
    report: Callable[[dict[str, object]], None],
) -> None:
    from speedledger.edge.dsp import DopplerProcessor

    if options.source == "-":
        if options.sample_rate is None:
            raise ValueError("--sample-rate is required for live PCM on stdin")
        rate, chunks = options.sample_rate, without_stalling(pcm_stdin_source(options.sample_rate))
    else:
        assert options.source is not None
        rate, chunks = wav_source(Path(options.source))
    processor = DopplerProcessor(rate, carrier_hz=options.carrier_hz, angle_deg=options.angle_deg)
    if processor.range_warning is not None:
        log.warning("%s", processor.range_warning)
    start_ms = options.start_ms if options.start_ms is not None else int(time.time() * 1000)
    started = time.monotonic()
    fed_samples = 0

    def handle(passes: list[VehiclePass], horizon_ms: int | None, stopping: bool = False) -> None:
        """Decide every pass the tracker produced; with a camera, once its frames can be attributed."""
        if camera is not None:
            passes = camera.release(passes, horizon_ms, everything=stopping)
        for vehicle_pass in passes:
            message = agent.on_pass(vehicle_pass, start_ms + vehicle_pass.t_ms)
            if message is not None:
                report(message)

    for chunk in chunks:
        if loop.stop.is_set():
            # A vehicle in the beam right now is not measured; the passes held for their frames are.
            handle([], processor.horizon_ms, stopping=True)
            return
        if chunk is None:  # the live source is quiet: deliveries and acks go on meanwhile
            loop.pump(wait_s=0.05)
            continue
        handle(processor.feed(chunk), processor.horizon_ms)
        fed_samples += chunk.size
        loop.pump()
        if options.realtime:
            ahead = fed_samples / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    handle(processor.flush(), None)
    loop.pump()
