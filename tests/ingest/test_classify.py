"""Classifying arriving messages needs no database: a radar lookup is all it asks for."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from speedledger.central.ingest.checks import Verified
from speedledger.central.ingest.classify import Checked, EvidenceImage, Status, classify
from speedledger.central.ingest.mqtt import Delivery, Received
from speedledger.central.ingest.parse import Rejected
from speedledger.central.ingest.settings import IngestLimits
from speedledger.central.radars import domain
from speedledger.central.radars.domain import RadarState
from tests.ingest.harness import ROOT, TINY_JPEG, SigningRadar

RADAR = SigningRadar("R-1")
EVENT_ID = "0b7e6f8a-3c2d-4e1f-9a8b-7c6d5e4f3a2b"
LIMITS = IngestLimits(max_evidence_bytes=64)


def _registered(radar: SigningRadar) -> RadarState:
    [registered] = domain.register(radar.registration(metrology=()), None, 0)
    return domain.evolve(None, registered)


KNOWN = {RADAR.radar_id: _registered(RADAR)}


def _classify(topic: str, payload: bytes, *, retained: bool = False) -> Checked:
    received = Received(topic, payload, retained, time.time_ns() // 1_000_000, Delivery(1, 1, 1))
    return classify(received, KNOWN.get, LIMITS)


def _reason(checked: Checked) -> str:
    assert isinstance(checked.outcome, Rejected)
    return checked.outcome.reason.value


def test_a_signed_violation_of_a_registered_radar_is_verified() -> None:
    message = RADAR.violation()
    checked = _classify(f"{ROOT}R-1/violations", json.dumps(message).encode())
    assert isinstance(checked.outcome, Verified) and checked.outcome.message == message
    assert (checked.kind, checked.radar_id, checked.registered) == ("violation", "R-1", True)


def test_a_violation_of_an_unregistered_radar_is_refused_and_does_not_count_as_seen() -> None:
    stranger = SigningRadar("R-2")
    checked = _classify(f"{ROOT}R-2/violations", json.dumps(stranger.violation()).encode())
    assert (_reason(checked), checked.registered) == ("unknown_radar", False)


@pytest.mark.parametrize(
    ("suffix", "payload", "reason"),
    [
        (f"evidence/{EVENT_ID}", b"not a jpeg", "malformed"),
        (f"evidence/{EVENT_ID}", TINY_JPEG + b"x" * 64, "evidence_oversized"),
        ("evidence/NOT-A-UUID", TINY_JPEG, "bad_topic"),
        ("status", b'{"state":"asleep"}', "bad_status"),
        ("status", b'{"state":"online","at_ms":"noon"}', "bad_status"),
        ("firmware", b"{}", "bad_topic"),
    ],
)
def test_refusals_name_their_reason(suffix: str, payload: bytes, reason: str) -> None:
    assert _reason(_classify(f"{ROOT}R-1/{suffix}", payload)) == reason


def test_evidence_is_identified_by_its_content_hash() -> None:
    checked = _classify(f"{ROOT}R-1/evidence/{EVENT_ID}", TINY_JPEG)
    assert checked.outcome == EvidenceImage(EVENT_ID, hashlib.sha256(TINY_JPEG).hexdigest(), TINY_JPEG)
    assert checked.kind == "evidence" and checked.registered


def test_statuses_of_radars_and_central_workers() -> None:
    radar = _classify(f"{ROOT}R-1/status", b'{"state":"online","firmware":"1.2","at_ms":5}')
    assert radar.outcome == Status("radar", "R-1", True, 5, "1.2")
    worker = _classify("speedledger/v1/central/worker-2/status", b'{"state":"offline"}')
    assert (worker.kind, worker.radar_id, worker.outcome) == (
        "status",
        None,
        Status("central", "worker-2", False, None, None),
    )
    assert _classify(f"{ROOT}R-1/status", b"", retained=True).outcome is None  # a retained status cleared
    assert _reason(_classify("speedledger/v1/central/worker-2/status", b"\xff")) == "malformed"


def test_a_topic_outside_the_contract_is_refused() -> None:
    checked = _classify("elsewhere/R-1/violations", b"{}")
    assert (checked.kind, checked.radar_id, _reason(checked)) == ("unknown", None, "bad_topic")
