"""Portable edge core on CPython: signatures, violation building, config checks, delivery logic."""

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from speedledger.edge.core import ed25519
from speedledger.edge.core.config import ConfigError, ConfigState
from speedledger.edge.core.journal import Journal
from speedledger.edge.core.outbox import Backoff, Outbox, status_payload
from speedledger.edge.core.violation import SpeedPolicy, build, payload, sign, snr_cdb, speed_ckmh, uuid7
from speedledger.edge.signing import CryptographySigner, verify
from speedledger.shared import canonical, keys, topics
from speedledger.shared import violation as spec

RFC8032_TEST1_SIGNATURE_OF_EMPTY = (
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def test_pure_ed25519_matches_rfc8032_test1(contract_vectors: dict[str, Any]) -> None:
    signer = ed25519.Ed25519Signer(bytes.fromhex(contract_vectors["ed25519_secret_key_hex"]))
    assert keys.b64encode(signer.public_key) == contract_vectors["public_key_b64"]
    assert signer.key_id == contract_vectors["key_id"]
    assert signer.sign(b"").hex() == RFC8032_TEST1_SIGNATURE_OF_EMPTY


def test_pure_ed25519_agrees_with_cryptography_both_ways() -> None:
    rng = random.Random(8032)
    for length in (0, 1, 111, 112, 127, 128, 129, 1000):
        seed = rng.randbytes(32)
        message = rng.randbytes(length)
        pure = ed25519.Ed25519Signer(seed)
        reference = CryptographySigner.from_seed(seed)
        assert pure.public_key == reference.public_key
        signature = pure.sign(message)
        assert signature == reference.sign(message), "Ed25519 is deterministic"
        assert ed25519.verify(pure.public_key, message, signature)
        assert verify(pure.public_key, message, signature)
        tampered = bytes([signature[0] ^ 1]) + signature[1:]
        assert not ed25519.verify(pure.public_key, message, tampered)
        assert not ed25519.verify(pure.public_key, message + b"x", signature)


def test_sha512_fallback_matches_hashlib() -> None:
    import hashlib

    for length in range(0, 300, 7):
        data = os.urandom(length)
        assert ed25519._sha512_pure(data) == hashlib.sha512(data).digest()


def test_signed_violation_is_byte_identical_to_the_contract_vector(contract_vectors: dict[str, Any]) -> None:
    unsigned = contract_vectors["violation_unsigned"]
    message = build(**unsigned_fields(unsigned))
    assert canonical.signing_bytes(message) == contract_vectors["canonical_bytes_ascii"].encode()
    seed = bytes.fromhex(contract_vectors["ed25519_secret_key_hex"])
    for signer in (ed25519.Ed25519Signer(seed), CryptographySigner.from_seed(seed)):
        signed = sign(message, signer)
        assert signed == contract_vectors["violation_signed"]
        spec.validate(signed)
        assert json.loads(payload(signed)) == signed


def unsigned_fields(unsigned: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in unsigned.items() if name != "v"}


def test_build_refuses_a_bad_field(contract_vectors: dict[str, Any]) -> None:
    fields = unsigned_fields(contract_vectors["violation_unsigned"])
    fields["plate"] = "gz-123"
    with pytest.raises(spec.ViolationError, match="plate"):
        build(**fields)


def test_sign_refuses_a_foreign_key_id(contract_vectors: dict[str, Any]) -> None:
    message = build(**unsigned_fields(contract_vectors["violation_unsigned"]))
    with pytest.raises(ValueError, match="key_id"):
        sign(message, CryptographySigner.from_seed(bytes(32)))


def test_device_retained_speed_follows_the_contract_examples(contract_vectors: dict[str, Any]) -> None:
    for example in contract_vectors["retained_speed_examples"]:
        policy = SpeedPolicy(example["limit"])
        assert policy.retained_kmh(example["measured_speed_ckmh"]) == example["retained"]
        assert policy.is_violation(example["measured_speed_ckmh"]) == (example["fine_eur"] > 0)


def test_speed_conversion_rounds_to_the_nearest_hundredth() -> None:
    assert speed_ckmh(104.324) == 10432
    assert speed_ckmh(104.325001) == 10433


def test_snr_is_rounded_and_kept_inside_the_contract_range() -> None:
    assert [snr_cdb(value) for value in (23.456, -3.217, 500.0, -500.0)] == [2346, -322, 20_000, -10_000]


def test_uuid7_is_a_contract_event_id_ordered_by_time() -> None:
    first = uuid7(1764316800123, os.urandom(10))
    second = uuid7(1764316800124, os.urandom(10))
    assert spec.is_event_id(first) and spec.is_event_id(second)
    assert first[14] == "7" and first[19] in "89ab"
    assert first < second


CENTRAL_SEED = bytes(range(32))


def signed_config(**changes: Any) -> bytes:
    central = CryptographySigner.from_seed(CENTRAL_SEED)
    config = {
        "v": 1,
        "radar_id": "R-1",
        "speed_limit_kmh": 70,
        "issued_at_ms": 1_000,
        "key_id": central.key_id,
    }
    config.update(changes)
    config["sig"] = keys.b64encode(central.sign(canonical.signing_bytes(config)))
    return canonical.dumps(config)


def config_state(verify_fn: Any = verify) -> ConfigState:
    central = CryptographySigner.from_seed(CENTRAL_SEED)
    return ConfigState("R-1", SpeedPolicy(90), central.public_key, verify_fn)


@pytest.mark.parametrize("verify_fn", [verify, ed25519.verify], ids=["cryptography", "pure"])
def test_verified_config_is_applied(verify_fn: Any) -> None:
    state = config_state(verify_fn)
    state.apply(signed_config(tolerance_kmh=3))
    assert state.policy.speed_limit_kmh == 70
    assert state.policy.rule.below_threshold_subtract_kmh == 3
    assert state.issued_at_ms == 1_000


def test_tampered_config_is_refused() -> None:
    state = config_state()
    tampered = signed_config().replace(b'"speed_limit_kmh":70', b'"speed_limit_kmh":130')
    with pytest.raises(ConfigError, match="signature"):
        state.apply(tampered)
    assert state.policy.speed_limit_kmh == 90


def test_config_signed_by_another_key_is_refused() -> None:
    state = ConfigState("R-1", SpeedPolicy(90), CryptographySigner.from_seed(bytes(32)).public_key, verify)
    with pytest.raises(ConfigError, match="another key"):
        state.apply(signed_config())


def test_config_for_another_radar_or_replayed_is_refused() -> None:
    state = config_state()
    with pytest.raises(ConfigError, match="another radar"):
        state.apply(signed_config(radar_id="R-2"))
    state.apply(signed_config(issued_at_ms=2_000, speed_limit_kmh=50))
    with pytest.raises(ConfigError, match="not newer"):
        state.apply(signed_config(issued_at_ms=1_500, speed_limit_kmh=130))
    assert state.policy.speed_limit_kmh == 50


def test_config_is_refused_without_a_central_key() -> None:
    state = ConfigState("R-1", SpeedPolicy(90), None, verify)
    with pytest.raises(ConfigError, match="no central config key"):
        state.apply(signed_config())


class FakeTransport:
    def __init__(self) -> None:
        self.up = True
        self.sent: list[tuple[str, bytes]] = []

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> bool:
        assert qos == 1 and not retain
        if not self.up:
            return False
        self.sent.append((topic, payload))
        return True

    def violations(self) -> list[int]:
        return [json.loads(p)["seq"] for t, p in self.sent if t.endswith("/violations")]


def event_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012x}"


def journal_with(tmp_path: Path, count: int) -> Journal:
    journal = Journal(str(tmp_path))
    for n in range(1, count + 1):
        body = canonical.dumps({"event_id": event_id(n), "seq": n})
        journal.append(event_id(n), n, body, b"jpeg%d" % n if n % 2 else b"")
    return journal


def ack(n: int, result: str = "accepted") -> bytes:
    return json.dumps({"event_id": event_id(n), "seq": n, "result": result, "reason": ""}).encode()


def test_outbox_sends_evidence_then_violation_in_seq_order(tmp_path: Path) -> None:
    transport = FakeTransport()
    outbox = Outbox(journal_with(tmp_path, 2), "R-1", transport)
    assert outbox.poll(0) == 0, "nothing is sent before the connection is up"
    outbox.on_connect(0)
    assert outbox.poll(0) == 2
    assert [topic for topic, _ in transport.sent] == [
        topics.evidence("R-1", event_id(1)),
        topics.violations("R-1"),
        topics.violations("R-1"),
    ]
    assert transport.sent[0][1] == b"jpeg1"


def test_outbox_window_limits_events_awaiting_acks(tmp_path: Path) -> None:
    transport = FakeTransport()
    outbox = Outbox(journal_with(tmp_path, 5), "R-1", transport, window=2)
    outbox.on_connect(0)
    outbox.poll(0)
    assert transport.violations() == [1, 2]
    assert outbox.on_ack(ack(1)) is not None
    outbox.poll(1)
    assert transport.violations() == [1, 2, 3]


def test_outbox_resends_unacked_events_with_growing_delay(tmp_path: Path) -> None:
    transport = FakeTransport()
    outbox = Outbox(journal_with(tmp_path, 1), "R-1", transport, resend_ms=1_000, first_resend_ms=1_000)
    outbox.on_connect(0)
    outbox.poll(0)
    outbox.poll(999)
    assert transport.violations() == [1]
    outbox.poll(1_000)
    assert transport.violations() == [1, 1]
    outbox.poll(2_999)
    assert transport.violations() == [1, 1], "second re-send waits twice as long"
    outbox.poll(3_000)
    assert transport.violations() == [1, 1, 1]


def test_outbox_waits_twice_as_long_as_central_takes_to_answer(tmp_path: Path) -> None:
    """A slow central (a fleet's backlog) gets no duplicates: the wait follows its answer time."""
    transport = FakeTransport()
    outbox = Outbox(journal_with(tmp_path, 4), "R-1", transport, window=2, resend_ms=1_000)
    outbox.on_connect(0)
    outbox.poll(0)
    assert outbox.on_ack(ack(1)) is not None
    outbox.poll(3_000)  # central took 3 s: the waits are now 6 s from this ack
    assert transport.violations() == [1, 2, 3]
    outbox.poll(8_999)
    assert transport.violations() == [1, 2, 3], "2 (sent at 0) and 3 wait 6 s from the last ack"
    outbox.poll(9_000)
    assert transport.violations() == [1, 2, 3, 2, 3]
    outbox.poll(20_999)
    assert transport.violations() == [1, 2, 3, 2, 3], "a second re-send waits twice as long"
    outbox.poll(21_000)
    assert transport.violations() == [1, 2, 3, 2, 3, 2, 3]


def test_outbox_waits_longer_for_central_first_answer(tmp_path: Path) -> None:
    """Back from an outage, a radar's events may queue at central behind a whole fleet's: before the
    first ack on a connection, nothing is re-sent for `first_resend_ms`; after it, the usual wait."""
    transport = FakeTransport()
    outbox = Outbox(journal_with(tmp_path, 3), "R-1", transport, window=2, resend_ms=1_000, first_resend_ms=5_000)
    outbox.on_connect(0)
    outbox.poll(0)
    outbox.poll(4_999)
    assert transport.violations() == [1, 2], "no re-send at resend_ms before central's first answer"
    outbox.poll(5_000)
    assert transport.violations() == [1, 2, 1, 2]
    assert outbox.on_ack(ack(1)) is not None
    outbox.poll(5_100)  # central took 5.1 s from the first copy: the waits are now 10.2 s from this ack
    assert transport.violations() == [1, 2, 1, 2, 3]
    outbox.poll(15_299)
    assert transport.violations() == [1, 2, 1, 2, 3]
    outbox.poll(15_300)
    assert transport.violations() == [1, 2, 1, 2, 3, 3], "3, sent after the ack, waits 10.2 s"
    outbox.poll(25_499)
    assert transport.violations() == [1, 2, 1, 2, 3, 3], "2's second re-send waits twice as long"
    outbox.poll(25_500)
    assert transport.violations() == [1, 2, 1, 2, 3, 3, 2]
    outbox.on_disconnect()
    outbox.on_connect(30_000)  # a new connection: central's answers are unknown again
    outbox.poll(30_000)
    outbox.poll(34_999)
    assert transport.violations() == [1, 2, 1, 2, 3, 3, 2, 2, 3]
    outbox.poll(35_000)
    assert transport.violations() == [1, 2, 1, 2, 3, 3, 2, 2, 3, 2, 3]


def test_outbox_any_ack_restarts_every_wait(tmp_path: Path) -> None:
    transport = FakeTransport()
    outbox = Outbox(journal_with(tmp_path, 2), "R-1", transport, resend_ms=1_000)
    outbox.on_connect(0)
    outbox.poll(0)
    outbox.poll(900)
    assert outbox.on_ack(ack(9)) is None, "not pending, but central is answering"
    outbox.poll(950)
    outbox.poll(1_949)
    assert transport.violations() == [1, 2]
    outbox.poll(1_950)
    assert transport.violations() == [1, 2, 1, 2]


def test_outbox_times_answers_from_the_first_publication(tmp_path: Path) -> None:
    """A central slow enough that every event is re-sent once still stretches the wait: the ack is
    timed from the first copy (timing only events sent once would learn nothing and keep re-sending)."""
    transport = FakeTransport()
    outbox = Outbox(journal_with(tmp_path, 2), "R-1", transport, window=1, resend_ms=1_000, first_resend_ms=1_000)
    outbox.on_connect(0)
    outbox.poll(0)
    outbox.poll(1_000)  # re-sent
    assert outbox.on_ack(ack(1)) is not None
    outbox.poll(3_000)  # 2 goes out; central took 3 s from the first copy: waits of 6 s
    outbox.poll(8_999)
    assert transport.violations() == [1, 1, 2]
    outbox.poll(9_000)
    assert transport.violations() == [1, 1, 2, 2]


def test_outbox_resends_everything_pending_after_reconnect(tmp_path: Path) -> None:
    transport = FakeTransport()
    journal = journal_with(tmp_path, 3)
    outbox = Outbox(journal, "R-1", transport)
    outbox.on_connect(0)
    outbox.poll(0)
    outbox.on_ack(ack(2, "duplicate"))
    transport.up = False
    outbox.on_disconnect()
    assert outbox.poll(10) == 0
    transport.up = True
    outbox.on_connect(20)
    outbox.poll(20)
    assert transport.violations() == [1, 2, 3, 1, 3]
    assert outbox.acked["duplicate"] == 1


def test_outbox_notices_a_dead_transport(tmp_path: Path) -> None:
    transport = FakeTransport()
    outbox = Outbox(journal_with(tmp_path, 2), "R-1", transport)
    outbox.on_connect(0)
    transport.up = False
    assert outbox.poll(0) == 0
    assert not outbox.connected


def test_acks_end_delivery_durably_and_junk_is_ignored(tmp_path: Path) -> None:
    journal = journal_with(tmp_path, 2)
    outbox = Outbox(journal, "R-1", FakeTransport())
    for junk in (b"", b"[]", b'{"event_id":"x"}', b'{"event_id":1,"result":"accepted"}', ack(9)):
        assert outbox.on_ack(junk) is None
    rejected = outbox.on_ack(
        json.dumps({"event_id": event_id(1), "seq": 1, "result": "rejected", "reason": "bad_signature"}).encode()
    )
    assert rejected is not None and rejected.reason == "bad_signature"
    assert outbox.on_ack(ack(1)) is None, "a second ack for the same event changes nothing"
    journal.close()
    assert [event.seq for event in Journal(str(tmp_path)).pending()] == [2]


def test_backoff_grows_to_its_cap_and_resets() -> None:
    backoff = Backoff(initial_ms=100, max_ms=1_000, random01=lambda: 1.0)
    assert [backoff.next_ms() for _ in range(6)] == [100, 200, 400, 800, 1_000, 1_000]
    backoff.reset()
    assert backoff.next_ms() == 100
    jittered = Backoff(initial_ms=100, max_ms=1_000, random01=lambda: 0.0)
    assert jittered.next_ms() == 50


def test_status_payload_is_canonical() -> None:
    assert status_payload("online", "1.0.0", 5) == b'{"at_ms":5,"firmware":"1.0.0","state":"online"}'


def test_key_written_by_keys_generate_loads_on_both_signers(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from speedledger.cli import app
    from speedledger.edge.core.keyfile import seed_from_pem
    from speedledger.edge.signing import load_signer

    path = tmp_path / "radar.pem"
    result = CliRunner().invoke(app, ["keys", "generate", "--out", str(path), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    signer = load_signer(path)
    assert keys.b64encode(signer.public_key) == printed["public_key"]
    assert signer.key_id == printed["key_id"]
    pure = ed25519.Ed25519Signer(seed_from_pem(path.read_text()))
    assert pure.public_key == signer.public_key
    assert pure.sign(b"m") == signer.sign(b"m")


def test_key_loaders_refuse_other_files(tmp_path: Path) -> None:
    from speedledger.edge.core.keyfile import seed_from_pem
    from speedledger.edge.signing import KeyFileError, load_signer

    path = tmp_path / "not-a-key.pem"
    path.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyFileError):
        load_signer(path)
    with pytest.raises(ValueError):
        seed_from_pem(path.read_text())
    with pytest.raises(KeyFileError, match="cannot read"):
        load_signer(tmp_path / "missing.pem")


def test_print_log_formats_like_logging(capsys: pytest.CaptureFixture[str]) -> None:
    from speedledger.edge.core.radar import PrintLog

    log = PrintLog()
    log.debug("not shown %d", 1)
    log.info("config applied: limit %d km/h", 70)
    log.warning("100% sure, no arguments")
    log.error("central rejected %s (seq %d): %s", "id", 3, "bad")
    assert capsys.readouterr().out.splitlines() == [
        "config applied: limit 70 km/h",
        "warning: 100% sure, no arguments",
        "error: central rejected id (seq 3): bad",
    ]
