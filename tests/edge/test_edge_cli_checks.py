"""`speedledger edge` says what is wrong at start, in one line, and how the radar gets its broker password
(issue 11)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile
from typer.testing import CliRunner

from speedledger.cli import app
from speedledger.edge.cli import mqtt_password
from speedledger.edge.mqtt_transport import MqttTransport
from tests.edge.test_edge_run import write_key

runner = CliRunner()


def one_line_error(arguments: list[str], *words: str) -> None:
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture
def silence(tmp_path: Path) -> Path:
    wav = tmp_path / "silence.wav"
    wavfile.write(wav, 24_000, np.zeros((24_000, 2), dtype=np.int16))
    return wav


def test_measure_says_0_vehicles_on_a_silent_recording(silence: Path) -> None:
    result = runner.invoke(app, ["edge", "measure", str(silence)])
    assert result.exit_code == 0 and result.stdout == ""
    assert "0 vehicles measured in silence.wav" in result.stderr
    as_json = runner.invoke(app, ["edge", "measure", str(silence), "--json"])
    assert as_json.stdout == "" and '{"vehicles": 0}' in as_json.stderr.splitlines()


def test_measure_plot_into_a_missing_folder(silence: Path, tmp_path: Path) -> None:
    one_line_error(["edge", "measure", str(silence), "--plot", str(tmp_path / "no" / "plot.png")], "--plot", "no")


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["--radar-id", "bad id!"], ["--radar-id", "bad id!"]),
        (["--radar-id", "R" * 33], ["--radar-id"]),
        (["--radar-id", "R1", "--camera", "no-such-folder"], ["--camera", "no-such-folder"]),
        (["--radar-id", "R1", "--source", "no-such.wav"], ["--source", "no-such.wav"]),
        (["--radar-id", "R1", "--mqtt-password-file", "no-such-password"], ["--mqtt-password-file"]),
    ],
)
def test_run_refuses_a_bad_option_before_starting(tmp_path: Path, arguments: list[str], words: list[str]) -> None:
    key_file, _ = write_key(tmp_path)
    journal = tmp_path / "journal"
    one_line_error(["edge", "run", "--key", str(key_file), "--journal", str(journal), *arguments], *words)
    assert not journal.exists()


def test_run_refuses_camera_frames_not_named_by_their_time(tmp_path: Path) -> None:
    """Frames without a time could only be matched by order: one missing frame would shift every plate."""
    key_file, _ = write_key(tmp_path)
    camera = tmp_path / "camera"
    camera.mkdir()
    (camera / "3000.jpg").write_bytes(b"")
    (camera / "IMG_0001.jpg").write_bytes(b"")
    journal = tmp_path / "journal"
    one_line_error(
        ["edge", "run", "--key", str(key_file), "--journal", str(journal), "--radar-id", "R1", "--camera", str(camera)],
        "--camera",
        "IMG_0001.jpg",
    )
    assert not journal.exists()


def test_the_broker_password_comes_from_a_file_or_the_environment(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    assert mqtt_password(secret, {"SPEEDLEDGER_MQTT_PASSWORD": "other"}) == "s3cret"
    assert mqtt_password(None, {"SPEEDLEDGER_MQTT_PASSWORD": "from-env"}) == "from-env"
    assert mqtt_password(None, {}) is None
    transport = MqttTransport("mqtts://broker.example:8883", "FR-A6-012", "fw", password="s3cret")
    assert (transport.address.username, transport.address.password, transport.address.tls) == (
        "FR-A6-012",
        "s3cret",
        True,
    )
