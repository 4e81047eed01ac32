"""A small-order key registered before central refused them (its event is in the log for ever) does
not let a forged violation through, neither on MQTT nor through `RecordViolation`."""

from __future__ import annotations

import json
import time

import pytest

from speedledger.central.infractions.violations import SignatureRejected, verify_signature
from speedledger.central.ingest.classify import classify
from speedledger.central.ingest.mqtt import Delivery, Received
from speedledger.central.ingest.parse import Rejected
from speedledger.central.ingest.settings import IngestLimits
from speedledger.central.radars import domain
from speedledger.central.radars.domain import RadarState
from speedledger.central.radars.events import RadarRegistered
from speedledger.shared import keys, topics
from tests.ingest.harness import SigningRadar

#: The identity point: [k]A is the identity for every k, so R = identity, S = 0 "signs" anything.
IDENTITY = bytes.fromhex("01" + "00" * 31)


def legacy_radar() -> RadarState:
    registered = RadarRegistered(
        radar_id="R-OLD",
        name="registered before the key check",
        latitude=45.0,
        longitude=4.0,
        speed_limit_kmh=90,
        public_key=keys.b64encode(IDENTITY),
        key_id=keys.key_id(IDENTITY),
        registered_at_ms=0,
    )
    return domain.evolve(None, registered)


def forged_violation() -> dict[str, object]:
    message = SigningRadar("R-OLD").violation(key_id=keys.key_id(IDENTITY), plate="AB123CD")
    return {**message, "sig": keys.b64encode(IDENTITY + bytes(32))}


def test_the_forgery_is_refused_on_mqtt() -> None:
    radar = legacy_radar()
    payload = json.dumps(forged_violation()).encode()
    received = Received(topics.violations("R-OLD"), payload, False, time.time_ns() // 1_000_000, Delivery(1, 1, 1))
    checked = classify(received, {"R-OLD": radar}.get, IngestLimits())
    assert isinstance(checked.outcome, Rejected)
    assert checked.outcome.reason.value == "bad_signature"


def test_the_forgery_is_refused_as_a_command() -> None:
    with pytest.raises(SignatureRejected, match="bad_signature"):
        verify_signature(forged_violation(), legacy_radar())
