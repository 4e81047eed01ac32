"""`speedledger edge run` end to end: IQ recording + camera frames -> signed violations at a real broker."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from speedledger.edge.core.journal import Journal
from speedledger.simulator.iq import Clutter, Scene, Vehicle, synthesise, write_iq_wav
from speedledger.simulator.roadside import write_recording
from tests.edge.fake_central import FakeCentral
from tests.fixtures.mosquitto import Mosquitto

pytestmark = pytest.mark.mosquitto

SAMPLE_RATE = 24_000
START_MS = 1_764_316_800_000


def write_key(directory: Path) -> tuple[Path, Ed25519PrivateKey]:
    """A new radar key in the file format `speedledger keys generate` writes (PEM PKCS#8)."""
    key = Ed25519PrivateKey.generate()
    key_file = directory / "radar.pem"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return key_file, key


def record(tmp_path: Path) -> tuple[Path, Path]:
    """A 10 s recording: 131 km/h at 3 s (over the 90 limit), 62 km/h receding at 7 s (under it)."""
    scene = Scene(
        SAMPLE_RATE,
        10.0,
        (Vehicle(131.0, 3.0, snr_db=12.0), Vehicle(62.0, 7.0, approaching=False, snr_db=12.0)),
        clutter=Clutter(),
    )
    return write_recording(tmp_path, scene, ["GZ123QK", None], seed=7, char_height_px=50, jpeg_quality=92)


def test_edge_run_measures_signs_journals_and_delivers(mosquitto: Mosquitto, tmp_path: Path) -> None:
    key_file, key = write_key(tmp_path)
    central = FakeCentral(mosquitto.port, key.public_key().public_bytes_raw())
    wav, camera = record(tmp_path)
    journal_dir = tmp_path / "journal"
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "speedledger", "edge", "run", "--radar-id", "FR-E2E-1", "--key", str(key_file),
             "--source", str(wav), "--camera", str(camera), "--journal", str(journal_dir), "--mqtt", mosquitto.url,
             "--start-ms", str(START_MS), "--drain-timeout", "20", "--json"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        central.close()
    assert completed.returncode == 0, completed.stderr
    violations = [json.loads(line) for line in completed.stdout.splitlines()]
    assert len(violations) == 1, completed.stdout
    violation = violations[0]
    assert violation["seq"] == 1
    assert violation["direction"] == "approaching"
    assert abs(violation["measured_speed_ckmh"] - 13100) <= 131, "within 1 % of the true speed"
    assert abs(violation["detected_at_ms"] - (START_MS + 3000)) <= 300
    assert violation["plate"] == "GZ123QK"
    jpeg = (camera / "3000.jpg").read_bytes()
    assert violation["image_sha256"] == hashlib.sha256(jpeg).hexdigest()
    assert central.recorded == {violation["event_id"]: violation}
    assert central.evidence[violation["event_id"]] == jpeg
    assert Journal(str(journal_dir)).pending() == []
    assert "1 accepted" in completed.stderr


def test_a_vehicle_whose_frame_is_missing_is_not_charged_the_next_ones_plate(tmp_path: Path) -> None:
    """Two speeders 0.45 s apart, only the second one's frame on disk (0.45 s from the first pass too):
    the first violation goes without plate or picture, the second carries its own."""
    key_file, _ = write_key(tmp_path)
    scene = Scene(
        SAMPLE_RATE, 8.0, (Vehicle(131.0, 3.0, snr_db=14.0), Vehicle(104.0, 3.45, snr_db=14.0)), clutter=Clutter()
    )
    wav, camera = write_recording(tmp_path, scene, [None, "GZ123QK"], seed=7, char_height_px=50, jpeg_quality=92)
    assert [path.name for path in camera.iterdir()] == ["3450.jpg"]
    completed = subprocess.run(
        [sys.executable, "-m", "speedledger", "edge", "run", "--radar-id", "FR-E2E-3", "--key", str(key_file),
         "--source", str(wav), "--camera", str(camera), "--journal", str(tmp_path / "journal"),
         "--mqtt", "mqtt://127.0.0.1:9", "--start-ms", str(START_MS), "--drain-timeout", "0", "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    violations = {round(v["measured_speed_ckmh"], -2): v for v in map(json.loads, completed.stdout.splitlines())}
    assert sorted(violations) == [10400, 13100], completed.stderr
    first, second = violations[13100], violations[10400]
    assert (first["plate"], first["image_sha256"]) == ("", "")
    assert second["plate"] == "GZ123QK"
    assert second["image_sha256"] == hashlib.sha256((camera / "3450.jpg").read_bytes()).hexdigest()


def test_edge_run_keeps_undelivered_events_and_says_so(tmp_path: Path) -> None:
    """No broker at all: the violation is journaled, the run ends with exit status 2, nothing is lost."""
    key_file, _ = write_key(tmp_path)
    wav, _ = record(tmp_path)
    journal_dir = tmp_path / "journal"
    completed = subprocess.run(
        [sys.executable, "-m", "speedledger", "edge", "run", "--radar-id", "FR-E2E-2", "--key", str(key_file),
         "--source", str(wav), "--journal", str(journal_dir), "--mqtt", "mqtt://127.0.0.1:9",
         "--drain-timeout", "1"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 2, completed.stderr
    assert "1 event stays in the journal" in completed.stderr
    assert "delivery: cannot reach the broker at 127.0.0.1:9" in completed.stderr
    pending = Journal(str(journal_dir)).pending()
    assert [event.seq for event in pending] == [1]


def test_edge_run_reports_a_bad_key_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    completed = subprocess.run(
        [sys.executable, "-m", "speedledger", "edge", "run", "--radar-id", "R", "--key", str(bad),
         "--journal", str(tmp_path / "j"), "--drain-timeout", "0"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert completed.returncode == 1
    assert "not an unencrypted PEM PKCS#8 private key" in completed.stderr


def test_edge_run_reads_live_pcm_on_stdin(tmp_path: Path) -> None:
    """`--source -`: 16-bit stereo PCM as a sound card delivers it, same measurement as the WAV."""
    from scipy.io import wavfile

    key_file, _ = write_key(tmp_path)
    wav, _ = record(tmp_path)
    rate, samples = wavfile.read(wav)
    assert samples.dtype == np.int16
    completed = subprocess.run(
        [sys.executable, "-m", "speedledger", "edge", "run", "--radar-id", "FR-LIVE-1", "--key", str(key_file),
         "--source", "-", "--sample-rate", str(rate), "--journal", str(tmp_path / "journal"),
         "--mqtt", "mqtt://127.0.0.1:9", "--drain-timeout", "0", "--json"],
        input=samples.astype("<i2").tobytes(), capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 2, completed.stderr.decode()
    (violation,) = [json.loads(line) for line in completed.stdout.decode().splitlines()]
    assert abs(violation["measured_speed_ckmh"] - 13100) <= 131


def test_sigterm_stops_the_agent_cleanly(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """systemd's stop of a live agent (waiting for PCM on stdin): retained offline status, clean exit."""
    import signal
    import time

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    key_file, _ = write_key(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "speedledger", "edge", "run", "--radar-id", "FR-TERM-1", "--key", str(key_file),
         "--journal", str(tmp_path / "journal"), "--mqtt", mosquitto.url, "--source", "-", "--sample-rate", "24000"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    states: list[str] = []
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="term-watcher")
    watcher.on_connect = lambda c, *_: c.subscribe("speedledger/v1/radars/FR-TERM-1/status", 1)
    watcher.on_message = lambda c, u, m: states.append(json.loads(m.payload)["state"])
    watcher.connect("127.0.0.1", mosquitto.port)
    watcher.loop_start()
    try:
        deadline = time.monotonic() + 60
        while "online" not in states:
            assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
        assert code == 128 + signal.SIGTERM, process.stderr.read().decode()  # type: ignore[union-attr]
        while "offline" not in states:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        watcher.disconnect()
        watcher.loop_stop()
        if process.poll() is None:
            process.kill()


def test_a_quiet_live_source_does_not_hold_up_acks(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """PCM stops arriving (stdin stays open): the ack for the journaled violation is still processed."""
    import signal
    import time

    from scipy.io import wavfile

    key_file, key = write_key(tmp_path)
    central = FakeCentral(mosquitto.port, key.public_key().public_bytes_raw())
    wav, _ = record(tmp_path)
    rate, samples = wavfile.read(wav)
    journal_dir = tmp_path / "journal"
    process = subprocess.Popen(
        [sys.executable, "-m", "speedledger", "edge", "run", "--radar-id", "FR-QUIET-1", "--key", str(key_file),
         "--source", "-", "--sample-rate", str(rate), "--journal", str(journal_dir), "--mqtt", mosquitto.url],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdin is not None
        process.stdin.write(samples.astype("<i2").tobytes())
        process.stdin.flush()
        deadline = time.monotonic() + 60
        while not central.recorded:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        time.sleep(1.0)  # the ack's round trip while no PCM arrives
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
        assert code == 128 + signal.SIGTERM, process.stderr.read().decode()  # type: ignore[union-attr]
    finally:
        central.close()
        if process.poll() is None:
            process.kill()
    assert Journal(str(journal_dir)).pending() == []


def test_edge_run_warns_when_the_sample_rate_cannot_reach_enforcement_speeds(tmp_path: Path) -> None:
    key_file, _ = write_key(tmp_path)
    wav = tmp_path / "slow.wav"
    write_iq_wav(wav, synthesise(Scene(8_000, 1.0), np.random.default_rng(3)), 8_000)
    completed = subprocess.run(
        [sys.executable, "-m", "speedledger", "edge", "run", "--radar-id", "R", "--key", str(key_file),
         "--source", str(wav), "--journal", str(tmp_path / "j"), "--mqtt", "mqtt://127.0.0.1:9",
         "--drain-timeout", "0"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "at 8000 Hz this radar cannot measure above 86 km/h" in completed.stderr
