"""One real radar agent per radar: `speedledger edge run` fed live IQ on stdin and camera frames on disk.

Each radar's traffic is synthesised block by block (simulator/iq.py) and written to its agent as
16-bit stereo PCM, paced at `speedup` times real time, exactly as a sound-card ADC would deliver it;
the agent measures, reads the plate in the frame rendered for each pass (simulator/plates.py),
signs, journals and publishes. A reboot kills the agent with SIGKILL mid-send and starts it again on
the same journal after its boot time; the IQ of that time is lost, as it would be on the road.
A radar of a section takes its traffic once it has applied central's signed config asking for
passages, and dates them on the stream's clock with the scenario's declared clock uncertainty.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from speedledger.edge.core.radar import CONFIG_FILE
from speedledger.simulator.iq import Clutter, Scene, synthesise_blocks
from speedledger.simulator.netcut import CuttableLink
from speedledger.simulator.plates import Degradation, render_frame
from speedledger.simulator.processes import SpeedledgerProcess, wait_for
from speedledger.simulator.scenario import Fault, Radar, Scenario
from speedledger.simulator.scenes import realistic_front_end
from speedledger.simulator.traffic import Pass

BLOCK_S = 0.1  # IQ written to the agent at a time, as an ADC driver hands over buffers
PCM_FULL_SCALE = 160.0  # noise rms is 1: room for 30 dB of static clutter plus the strongest vehicle
#: A frame the camera cannot resolve: heavy defocus, dim and compressed (the reader must say "unread").
UNREADABLE = Degradation(gaussian_sigma=6.0, exposure=0.3, noise_sigma=6.0, jpeg_quality=20)
BOOT_IN_BEAM_MS = 1000  # a pass centred this long before a boot is still partly in the beam
REBOOT_WAIT_S = 5.0  # how long a reboot fault waits for a violation to interrupt mid-send
CONFIG_WAIT_S = 60.0  # how long a section's radar may take to apply the config asking for passages


@dataclass(frozen=True)
class Journaled:
    """A violation an agent signed and journaled (its --json line), with when the simulator saw it."""

    radar_id: str
    message: dict[str, object]
    at_monotonic: float


@dataclass
class RadarLog:
    """What happened to one radar during the run."""

    radar_id: str
    fed_s: float = 0.0  # stream time written to the agent so far
    down: list[tuple[float, float]] = field(default_factory=list)  # stream intervals without an agent
    offline: list[tuple[float, float]] = field(default_factory=list)  # stream intervals with the uplink cut
    exit_codes: list[int] = field(default_factory=list)
    behind_s: float = 0.0  # worst lag behind the requested pace
    error: str | None = None  # why feeding the agent stopped early


def write_frames(directory: Path, passes: list[Pass], seed: int) -> None:
    """One camera frame per pass, named by its beam-centre stream time in ms."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for vehicle_pass in passes:
        if not vehicle_pass.plate:
            continue  # no plate to show (a replayed log's unread pass): the agent finds no frame
        degradation = None if vehicle_pass.readable else UNREADABLE
        frame = render_frame(vehicle_pass.plate, rng, char_height_px=48, degradation=degradation)
        ok, jpeg = cv2.imencode(".jpg", frame.image_bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        (directory / f"{round(vehicle_pass.t_s * 1000)}.jpg").write_bytes(jpeg.tobytes())


def journal_dir(radar_workdir: Path) -> Path:
    return radar_workdir / "journal"


def radar_seed(scenario: Scenario, radar: Radar) -> int:
    """Each radar's own seed for its noise, front end and frames (radars do not share a noise sequence)."""
    return scenario.seed * 1000 + scenario.radars.index(radar)


def radar_scene(scenario: Scenario, radar: Radar, passes: list[Pass]) -> Scene:
    rng = np.random.default_rng([radar_seed(scenario, radar), 3])
    return Scene(
        radar.sample_rate,
        scenario.duration_s,
        tuple(vehicle_pass.vehicle() for vehicle_pass in passes),
        angle_deg=radar.angle_deg,
        clutter=Clutter(),
        front_end=realistic_front_end(rng, bits=None),
    )


def to_pcm(block: np.ndarray) -> bytes:
    """Interleaved little-endian 16-bit I/Q, as `speedledger edge run --source -` reads it."""
    stereo = np.column_stack((block.real, block.imag)) * (32767.0 / PCM_FULL_SCALE)
    return bytes(np.clip(np.round(stereo), -32768, 32767).astype("<i2").tobytes())


class RadarRun:
    """Feeds one radar's agent for the whole scenario, through its reboots."""

    def __init__(
        self,
        scenario: Scenario,
        radar: Radar,
        passes: list[Pass],
        workdir: Path,
        agent_args: list[str],
        start_ms: int,
        on_journaled: Callable[[Journaled], None],
        link: CuttableLink | None = None,
    ) -> None:
        self.scenario = scenario
        self.radar = radar
        self.passes = passes
        self.workdir = workdir
        self.agent_args = agent_args
        self.start_ms = start_ms
        self.on_journaled = on_journaled
        self.link = link  # the radar's uplink, when a fault cuts it
        self.log = RadarLog(radar.id)
        self._journaled = threading.Event()
        self._incarnation = 0
        self._booted: tuple[SpeedledgerProcess, threading.Thread]

    def _start_agent(self, offset_s: float) -> tuple[SpeedledgerProcess, threading.Thread]:
        """A (re)booted agent whose stream starts at `offset_s`; its camera folder names frames from there."""
        self._incarnation += 1
        camera = self.workdir / f"camera-{self._incarnation}"
        camera.mkdir()
        offset_ms = round(offset_s * 1000)
        frames = {int(frame.stem) - offset_ms: frame for frame in (self.workdir / "frames").iterdir()}
        # A vehicle still in the beam when the radar boots is in front of the camera at its first frame.
        in_beam = [at_ms for at_ms in frames if -BOOT_IN_BEAM_MS < at_ms < 0]
        if in_beam and 0 not in frames:
            frames[0] = frames[max(in_beam)]
        for at_ms, frame in frames.items():
            if at_ms >= 0:
                (camera / f"{at_ms}.jpg").symlink_to(frame)
        args = [
            *self.agent_args,
            "--camera", str(camera),
            "--start-ms", str(self.start_ms + offset_ms + self.scenario.clock_skew_ms(self.radar.id)),
        ]  # fmt: skip
        agent = SpeedledgerProcess(args, dict(os.environ), self.workdir / "agent.log")
        process = agent.start(stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        reader = threading.Thread(target=self._read, args=(process,), daemon=True)
        reader.start()
        return agent, reader

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.on_journaled(Journaled(self.radar.id, json.loads(line), time.monotonic()))
            self._journaled.set()

    def prepare(self) -> None:
        """Render the camera frames and boot the agent (before the clock starts: neither is traffic)."""
        write_frames(self.workdir / "frames", self.passes, radar_seed(self.scenario, self.radar))
        self._booted = self._start_agent(0.0)

    def wait_ready(self) -> None:
        """A radar of a section is ready once it has applied (and saved) central's config asking for passages."""
        if self.scenario.section_of(self.radar.id) is not None:
            what = f"radar {self.radar.id}'s signed config with report_passages (see {self.workdir / 'agent.log'})"
            wait_for(what, self._reports_passages, CONFIG_WAIT_S)

    def _reports_passages(self) -> bool:
        try:
            saved = json.loads((journal_dir(self.workdir) / CONFIG_FILE).read_bytes())
        except (OSError, ValueError):
            return False
        return isinstance(saved, dict) and saved.get("report_passages") == 1

    def run(self, started_monotonic: float, speedup: float) -> None:
        """Feed the whole scenario; a failure is kept in `log.error` (the agent is killed) for the caller."""
        try:
            self._feed(started_monotonic, speedup)
        except Exception as error:
            self.log.error = f"{type(error).__name__}: {error} (see {self.workdir / 'agent.log'})"
            self._booted[0].kill()

    def _faults(self, kind: str) -> list[Fault]:
        mine = (fault for fault in self.scenario.faults if fault.kind == kind and fault.radar == self.radar.id)
        return sorted(mine, key=lambda fault: fault.at_s)

    def _cut_link(self, t_s: float, offline: list[Fault]) -> None:
        """Cut the uplink when an offline fault is due and restore it when it is over."""
        if self.link is None:
            return
        if offline and t_s >= offline[0].at_s:
            fault = offline.pop(0)
            self.link.cut()
            self.log.offline.append((t_s, t_s + fault.duration_s))
        elif self.log.offline and t_s >= self.log.offline[-1][1]:
            self.link.restore()

    def _feed(self, started_monotonic: float, speedup: float) -> None:
        reboots, offline = self._faults("radar-reboot"), self._faults("radar-offline")
        agent, reader = self._booted
        skip_until_s = 0.0
        scene = radar_scene(self.scenario, self.radar, self.passes)
        for block in synthesise_blocks(scene, radar_seed(self.scenario, self.radar), BLOCK_S):
            t_s = self.log.fed_s
            self.log.fed_s += block.size / self.radar.sample_rate
            self._cut_link(t_s, offline)
            if t_s < skip_until_s:
                continue  # the radar is booting: this IQ is never sampled
            if reboots and t_s >= reboots[0].at_s:
                fault = reboots.pop(0)
                self._reboot(agent, reader)
                skip_until_s = t_s + fault.duration_s
                self.log.down.append((t_s, skip_until_s))
                agent, reader = self._booted = self._start_agent(skip_until_s)
                continue
            self._pace(started_monotonic, speedup)
            self._write(agent, to_pcm(block))
        self._finish(agent, reader)

    def _pace(self, started_monotonic: float, speedup: float) -> None:
        ahead = started_monotonic + self.log.fed_s / speedup - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
        else:
            self.log.behind_s = max(self.log.behind_s, -ahead)

    @staticmethod
    def _write(agent: SpeedledgerProcess, data: bytes) -> None:
        assert agent.process is not None and agent.process.stdin is not None
        try:
            agent.process.stdin.write(data)
            agent.process.stdin.flush()
        except BrokenPipeError:
            raise RuntimeError(f"the radar agent exited with status {agent.process.wait()}") from None

    def _reboot(self, agent: SpeedledgerProcess, reader: threading.Thread) -> None:
        """SIGKILL right after the agent journals its next violation (mid-send), or after REBOOT_WAIT_S."""
        self._journaled.clear()
        self._journaled.wait(REBOOT_WAIT_S)
        agent.kill()
        reader.join()
        self.log.exit_codes.append(-9)

    def _finish(self, agent: SpeedledgerProcess, reader: threading.Thread) -> None:
        """End of stream: the agent flushes its tracker, drains its journal (over a restored link) and exits."""
        assert agent.process is not None and agent.process.stdin is not None
        if self.link is not None:
            self.link.restore()
        agent.process.stdin.close()
        reader.join()
        self.log.exit_codes.append(agent.process.wait())
        agent.stop()


def agent_args(radar: Radar, key_file: Path, journal: Path, mqtt_url: str, central_key: str) -> list[str]:
    """`speedledger edge run` for this radar, reading live PCM on stdin (camera and start time added per boot)."""
    return [
        "edge", "run", "--radar-id", radar.id, "--key", str(key_file), "--source", "-",
        "--sample-rate", str(radar.sample_rate), "--angle-deg", str(radar.angle_deg),
        "--journal", str(journal), "--mqtt", mqtt_url, "--central-key", central_key,
        "--speed-limit", str(radar.speed_limit_kmh), "--json", "--drain-timeout", "600",
        # The stream's clock is exact; the radar declares the bound a real time sync would give.
        "--clock-uncertainty-ms", str(radar.clock_uncertainty_ms),
    ]  # fmt: skip
