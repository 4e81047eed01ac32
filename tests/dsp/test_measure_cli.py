"""`speedledger edge measure` on real WAV files: 16-bit PCM and 32-bit float, JSON lines per CONTRACT §4."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile
from typer.testing import CliRunner

from speedledger.cli import app
from speedledger.edge.dsp import measure_wav
from speedledger.simulator.iq import Clutter, FrontEnd, Rain, Scene, Vehicle, synthesise, write_iq_wav
from speedledger.simulator.scenes import single_pass, tone_at
from tests.dsp.helpers import ACCURACY_KMH

CONTRACT_KEYS = ["t_ms", "speed_kmh", "direction", "snr_db", "frames"]
SCENE = Scene(
    32_000,
    3.0,
    (Vehicle(118.4, 0.8, snr_db=4.0), Vehicle(63.2, 2.0, approaching=False, snr_db=0.0)),
    angle_deg=22.0,
    clutter=Clutter(),
    front_end=FrontEnd(dc_offset=3 - 2j, gain_imbalance=0.03, phase_imbalance_deg=2.0),
)


@pytest.fixture(scope="module")
def iq() -> np.ndarray:
    return synthesise(SCENE, np.random.default_rng(12))


@pytest.mark.parametrize("sample_format", ["int16", "float32"])
def test_measure_json_lines_round_trip(tmp_path: Path, iq: np.ndarray, sample_format: str) -> None:
    path = tmp_path / f"pass-{sample_format}.wav"
    write_iq_wav(path, iq / np.abs(iq).max() * 0.9, int(SCENE.sample_rate), sample_format)
    plot = tmp_path / "spectrogram.png"
    result = CliRunner().invoke(
        app, ["edge", "measure", str(path), "--angle-deg", "22", "--json", "--plot", str(plot)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [list(line) for line in lines] == [CONTRACT_KEYS] * 2
    for line, vehicle in zip(lines, SCENE.vehicles, strict=True):
        assert abs(line["speed_kmh"] - vehicle.speed_kmh) <= ACCURACY_KMH
        assert line["direction"] == vehicle.direction
        assert isinstance(line["t_ms"], int) and abs(line["t_ms"] - 1000 * vehicle.centre_s) < 50
        assert isinstance(line["frames"], int) and line["frames"] >= 5
        assert line["snr_db"] > 10
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_carrier_option_rescales_the_speed(tmp_path: Path, iq: np.ndarray) -> None:
    path = tmp_path / "pass.wav"
    write_iq_wav(path, iq, int(SCENE.sample_rate))
    default = measure_wav(path, angle_deg=22.0)
    other = measure_wav(path, carrier_hz=2 * 24.125e9, angle_deg=22.0)
    assert [round(2 * p.speed_kmh, 1) for p in other] == [round(p.speed_kmh, 1) for p in default]


def test_human_output_without_json(tmp_path: Path, iq: np.ndarray) -> None:
    path = tmp_path / "pass.wav"
    write_iq_wav(path, iq, int(SCENE.sample_rate))
    result = CliRunner().invoke(app, ["edge", "measure", str(path), "--angle-deg", "22"])
    assert result.exit_code == 0
    assert "118.40 km/h" in result.stdout and "receding" in result.stdout


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.zeros(1000, dtype=np.int16), "two channels"),
        (np.zeros((1000, 2), dtype=np.int32), "16-bit PCM or 32-bit float"),
    ],
)
def test_unusable_wav_is_a_clear_error(tmp_path: Path, data: np.ndarray, message: str) -> None:
    path = tmp_path / "bad.wav"
    wavfile.write(path, 32_000, data)
    result = CliRunner().invoke(app, ["edge", "measure", str(path), "--json"])
    assert result.exit_code == 1
    assert message in result.stderr and result.stdout == ""


def test_not_a_wav_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("not audio")
    result = CliRunner().invoke(app, ["edge", "measure", str(path)])
    assert result.exit_code == 1 and "not a readable WAV file" in result.stderr


def test_low_sample_rate_warns_about_fold_over(tmp_path: Path) -> None:
    path = tmp_path / "slow-adc.wav"
    scene = Scene(8_000, 1.0, (Vehicle(50.0, 0.5, snr_db=10.0),))
    write_iq_wav(path, synthesise(scene, np.random.default_rng(1)), 8_000)
    result = CliRunner().invoke(app, ["edge", "measure", str(path), "--json"])
    assert result.exit_code == 0
    assert "cannot measure above 86 km/h" in result.stderr
    assert abs(json.loads(result.stdout)["speed_kmh"] - 50.0) <= ACCURACY_KMH


def test_rain_and_a_tone_are_explained_on_stderr_and_stdout_keeps_the_contract(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    tone = tone_at(10.0, 67.0, 20.0)
    scene = single_pass(rng, 100.0, 10.0, 5.0, 32_000, rain=Rain(20.0), interferers=(tone,), duration_s=8.0)
    path = tmp_path / "field.wav"
    write_iq_wav(path, synthesise(scene, rng), 32_000)
    plot = tmp_path / "field.png"
    result = CliRunner().invoke(app, ["edge", "measure", str(path), "--angle-deg", "10", "--json", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    (line,) = [json.loads(text) for text in result.stdout.splitlines()]
    assert list(line) == CONTRACT_KEYS and abs(line["speed_kmh"] - 100.0) <= ACCURACY_KMH
    records = [json.loads(text) for text in result.stderr.splitlines()]
    (interferer,) = [record for record in records if "interferer_hz" in record]
    assert abs(interferer["interferer_hz"] - tone.doppler_hz) < 32_000 / 1024
    assert abs(interferer["speed_kmh"] - 67.0) < 1.0 and interferer["level_db"] > 35.0
    rejected = {record["rejected"]: record["tracks"] for record in records if "rejected" in record}
    assert rejected.get("clutter", 0) > 0 and rejected.get("interferer") == 1
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    human = CliRunner().invoke(app, ["edge", "measure", str(path), "--angle-deg", "10"])
    assert "interferer notched" in human.stderr and "100.00 km/h" in human.stdout
