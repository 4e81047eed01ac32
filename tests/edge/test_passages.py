"""The radar's side of section control (CONTRACT §6): `report_passages` in the signed config, passages
journaled on the violations' seq counter with the clock's uncertainty, published on `passages`, and
none while the clock has no valid time."""

from __future__ import annotations

import json
import os
from pathlib import Path

from speedledger.edge.core.config import ConfigState
from speedledger.edge.core.journal import Journal
from speedledger.edge.core.outbox import Outbox
from speedledger.edge.core.radar import PrintLog, Radar
from speedledger.edge.core.tracker import VehiclePass
from speedledger.edge.core.violation import SpeedPolicy
from speedledger.edge.signing import CryptographySigner, verify
from speedledger.shared import canonical, keys, passage, topics
from tests.edge.test_core import CENTRAL_SEED, FakeTransport, signed_config

START_MS = 1_764_316_800_000
JPEG = b"\xff\xd8\xff\xe0 a plate"


class FixedTimeSync:
    def __init__(self, uncertainty_ms: int | None) -> None:
        self.uncertainty = uncertainty_ms

    def uncertainty_ms(self) -> int | None:
        return self.uncertainty


class CameraRadar(Radar):
    plate = "GZ123QK"

    def evidence(self, t_ms: int) -> tuple[str, int, bytes]:
        return (self.plate, 960, JPEG) if self.plate else ("", 0, b"")


def radar(tmp_path: Path, uncertainty_ms: int | None, report_passages: int = 1) -> tuple[CameraRadar, FakeTransport]:
    central = CryptographySigner.from_seed(CENTRAL_SEED)
    config = ConfigState("R-1", SpeedPolicy(90), central.public_key, verify)
    journal = Journal(str(tmp_path))
    transport = FakeTransport()
    device = CameraRadar(
        "R-1",
        "fw-1",
        CryptographySigner.from_seed(bytes(range(1, 33))),
        journal,
        Outbox(journal, "R-1", transport),
        config,
        PrintLog(),
        os.urandom,
        FixedTimeSync(uncertainty_ms),
    )
    assert device.apply_config(signed_config(report_passages=report_passages), False)
    return device, transport


def car(speed_kmh: float) -> VehiclePass:
    return VehiclePass(0, speed_kmh, "approaching", 20.0, 12, -100, 100)


def test_the_signed_config_turns_passages_on(tmp_path: Path) -> None:
    assert radar(tmp_path / "on", 20)[0].config.report_passages is True
    assert radar(tmp_path / "off", 20, report_passages=0)[0].config.report_passages is False


def test_every_plate_read_gives_a_passage_on_the_one_seq_counter(tmp_path: Path) -> None:
    device, transport = radar(tmp_path, 20)
    assert device.on_pass(car(50.0), START_MS) is None  # under the limit: a passage only
    violation = device.on_pass(car(130.0), START_MS + 60_000)
    assert violation is not None
    device.outbox.on_connect(0)
    device.outbox.poll(0)
    published = [(topic, json.loads(body)) for topic, body in transport.sent if "/evidence/" not in topic]
    assert [(topic, body["seq"]) for topic, body in published] == [
        (topics.passages("R-1"), 1),
        (topics.violations("R-1"), 2),
        (topics.passages("R-1"), 3),
    ]
    first = published[0][1]
    passage.validate(first)
    assert (first["passed_at_ms"], first["clock_uncertainty_ms"], first["plate"]) == (START_MS, 20, "GZ123QK")
    signer = CryptographySigner.from_seed(bytes(range(1, 33)))
    assert first["key_id"] == signer.key_id
    assert verify(signer.public_key, canonical.signing_bytes(first), keys.b64decode(first["sig"]))
    assert (device.stats.passages, device.stats.violations) == (2, 1)


def test_no_passage_without_valid_time_or_without_a_plate(tmp_path: Path) -> None:
    device, _ = radar(tmp_path / "no-time", None)
    assert device.on_pass(car(130.0), START_MS) is not None  # the violation still goes
    assert (device.stats.passages, device.stats.passages_without_time, device.journal.next_seq) == (0, 1, 2)
    unread, _ = radar(tmp_path / "unread", 20)
    unread.plate = ""
    unread.on_pass(car(50.0), START_MS)
    assert (unread.stats.passages, unread.journal.next_seq) == (0, 1)
