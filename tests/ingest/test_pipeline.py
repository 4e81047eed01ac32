"""The pipeline on a real store without a broker: group commit outcomes and failure narrowing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import event, select

from speedledger.central.bootstrap import Central
from speedledger.central.ingest.config_push import ConfigKey, ConfigPublisher
from speedledger.central.ingest.mqtt import Delivery, Received
from speedledger.central.ingest.pipeline import Pipeline
from speedledger.central.ingest.queries import evidence_for_violation, list_quarantine
from speedledger.central.ingest.tables import early_images
from speedledger.central.radars.commands import RevokeRadarKey, UpdateRadar
from speedledger.central.radars.lookup import load_radar, radar_cache
from speedledger.central.sections.commands import CreateSection
from speedledger.shared import canonical, keys
from tests.ingest.harness import SigningRadar, with_image


class RecordingTransport:
    def __init__(self) -> None:
        self.acks: list[dict[str, Any]] = []
        self.confirmed: list[Delivery] = []

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.acks.append(json.loads(payload))

    def confirm(self, deliveries: Iterable[Delivery]) -> None:
        self.confirmed.extend(deliveries)


def _received(message: dict[str, Any], mid: int) -> Received:
    topic = f"speedledger/v1/radars/{message['radar_id']}/violations"
    return Received(topic, json.dumps(message).encode(), False, time.time_ns() // 1_000_000, Delivery(1, mid, 1))


@pytest.fixture
def pipeline(central: Central) -> tuple[Pipeline, RecordingTransport]:
    transport = RecordingTransport()
    pipeline = Pipeline(central.store, radar_cache(central.store).lookup, transport, central.recording)
    pipeline.start()
    yield pipeline, transport  # type: ignore[misc]
    pipeline.stop()


def test_one_batch_mixes_every_outcome_in_one_commit(
    pipeline: tuple[Pipeline, RecordingTransport], central: Central, register: Callable[[str], SigningRadar]
) -> None:
    run, transport = pipeline
    radar = register("R-1")
    first = radar.violation(seq=1)
    batch = [first, first, radar.violation(seq=1), {**radar.violation(seq=2), "frames": 0}, radar.violation(seq=3)]
    run.commit(run.check([_received(message, mid) for mid, message in enumerate(batch, start=1)]))
    results = [(ack["result"], ack["reason"]) for ack in transport.acks]
    assert results == [
        ("accepted", ""),
        ("duplicate", ""),  # the same event_id again within the batch
        ("rejected", "seq_reuse"),
        ("rejected", "invalid_field"),
        ("accepted", ""),
    ]
    assert [delivery.mid for delivery in transport.confirmed] == [1, 2, 3, 4, 5]


def test_a_message_the_database_refuses_is_quarantined_and_the_rest_commit(
    pipeline: tuple[Pipeline, RecordingTransport],
    central: Central,
    register: Callable[[str], SigningRadar],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run, transport = pipeline
    radar = register("R-1")
    messages = [radar.violation() for _ in range(3)]
    poisoned = messages[1]["event_id"]
    answer = run._writer._answer

    def failing_answer(item: Any, verified: Any, *args: Any) -> Any:
        if verified.message["event_id"] == poisoned:
            raise ValueError("refused by the database")
        return answer(item, verified, *args)

    monkeypatch.setattr(run._writer, "_answer", failing_answer)
    run.commit(run.check([_received(message, mid) for mid, message in enumerate(messages, start=1)]))
    by_id = {ack["event_id"]: (ack["result"], ack["reason"]) for ack in transport.acks}
    assert by_id == {
        messages[0]["event_id"]: ("accepted", ""),
        poisoned: ("rejected", "unstorable"),
        messages[2]["event_id"]: ("accepted", ""),
    }
    assert sorted(delivery.mid for delivery in transport.confirmed) == [1, 2, 3]
    with central.engine.connect() as conn:
        [row] = list_quarantine(conn)
    assert (row["event_id"], row["reason"], row["detail"]) == (poisoned, "unstorable", "storing failed with ValueError")


def test_garbage_on_a_central_status_topic_is_quarantined(
    pipeline: tuple[Pipeline, RecordingTransport], central: Central
) -> None:
    run, transport = pipeline
    garbage = Received("speedledger/v1/central/evil/status", b"\xff\x00", False, 1, Delivery(1, 9, 1))
    run.commit(run.check([garbage]))
    assert [delivery.mid for delivery in transport.confirmed] == [9]
    with central.engine.connect() as conn:
        assert [row["reason"] for row in list_quarantine(conn)] == ["malformed"]


def test_a_key_revoked_or_a_radar_registered_between_batches_is_seen_by_the_next_batch(
    pipeline: tuple[Pipeline, RecordingTransport], central: Central, register: Callable[[str], SigningRadar]
) -> None:
    """The check stage keeps radars between batches (`radar_cache`): a change to one is seen at once."""
    run, transport = pipeline
    radar, later = register("R-1"), SigningRadar("R-2")
    run.commit(run.check([_received(radar.violation(), 1), _received(later.violation(), 2)]))
    central.bus.handle(RevokeRadarKey(radar_id="R-1", key_id=radar.key_id))
    central.bus.handle(later.registration("test R-2"))
    run.commit(run.check([_received(radar.violation(), 3), _received(later.violation(), 4)]))
    results = [(ack["result"], ack["reason"]) for ack in transport.acks]
    assert results == [("accepted", ""), ("rejected", "unknown_radar"), ("rejected", "revoked_key"), ("accepted", "")]


def test_a_batch_of_violations_claims_its_early_images_in_one_statement(
    pipeline: tuple[Pipeline, RecordingTransport], central: Central, register: Callable[[str], SigningRadar]
) -> None:
    """Images that came before their violations wait sealed; the projection of a batch of those violations
    opens every one it signed into the evidence with one DELETE ... RETURNING, and leaves an image its
    violation did not sign where it is."""
    run, _ = pipeline
    radar = register("R-1")
    images = [b"\xff\xd8\xff\xe0 photo %d \xff\xd9" % n for n in range(4)]
    messages = [with_image(radar, image) for image in images[:3]] + [with_image(radar, b"\xff\xd8\xff another")]
    early = [
        Received(f"speedledger/v1/radars/R-1/evidence/{message['event_id']}", image, False, 1, Delivery(1, n, 1))
        for n, (message, image) in enumerate(zip(messages, images, strict=True), start=1)
    ]
    run.commit(run.check(early))
    run.commit(run.check([_received(message, 10 + n) for n, message in enumerate(messages)]))
    claims: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith(f"DELETE FROM {early_images.name}"):
            claims.append(statement)

    event.listen(central.engine, "before_cursor_execute", count)
    try:
        central.runner.catch_up()
    finally:
        event.remove(central.engine, "before_cursor_execute", count)
    assert len(claims) == 1
    now_ms = time.time_ns() // 1_000_000
    with central.engine.connect() as conn:
        evidence = [evidence_for_violation(conn, message["event_id"], now_ms=now_ms) for message in messages]
        waiting = conn.execute(select(early_images.c.event_id)).scalars().all()
    assert [(item.status, item.content) for item in evidence[:3]] == [("received", image) for image in images[:3]]
    assert evidence[3].status == "pending" and waiting == [messages[3]["event_id"]]


def test_radar_lookups_retry_database_errors_and_isolate_broken_radars(
    central: Central, register: Callable[[str], SigningRadar]
) -> None:
    radar = register("R-1")
    failures = [central.store.engine.dialect.loaded_dbapi.OperationalError("database is locked")]

    def flaky(radar_id: str) -> Any:
        if radar_id == "R-BROKEN":
            raise ValueError("RadarKeyAdded before RadarRegistered")
        if failures:
            raise failures.pop()
        return load_radar(central.store, radar_id)

    transport = RecordingTransport()
    run = Pipeline(central.store, lambda radar_ids: flaky, transport, central.recording)
    good, broken = radar.violation(), SigningRadar("R-BROKEN").violation()
    checked = run._check_retrying([_received(good, 1), _received(broken, 2)])
    run.commit(checked)
    results = [(ack["result"], ack["reason"]) for ack in transport.acks]
    assert results == [("accepted", ""), ("rejected", "unknown_radar")]
    assert failures == []  # the database error was met, and the batch retried


def test_configs_are_published_once_per_change_and_again_after_a_reconnect(
    central: Central, register: Callable[[str], SigningRadar], tmp_path: Any
) -> None:
    published: list[tuple[str, bytes]] = []
    configs = ConfigPublisher(
        central.store,
        ConfigKey.load_or_create(tmp_path / "key.pem"),
        lambda t, p: published.append((t, p)),
        rule=central.fine_schedule.retained_rule,
    )
    register("R-1")
    assert configs.publish_changes() == 1
    assert configs.publish_changes() == 0  # nothing new
    central.bus.handle(UpdateRadar(radar_id="R-1", name="renamed"))
    assert configs.publish_changes() == 0  # not a limit change
    configs.republish()
    assert [topic for topic, _ in published] == ["speedledger/v1/radars/R-1/config"] * 2
    assert published[0][1] == published[1][1]


def test_radars_of_a_section_are_told_to_report_passages(
    central: Central, register: Callable[[str], SigningRadar], tmp_path: Any
) -> None:
    published: list[tuple[str, bytes]] = []
    key = ConfigKey.load_or_create(tmp_path / "key.pem")
    configs = ConfigPublisher(
        central.store, key, lambda t, p: published.append((t, p)), rule=central.fine_schedule.retained_rule
    )
    for radar_id in ("R-1", "R-2", "R-3"):
        register(radar_id)
    configs.publish_changes()
    time.sleep(0.002)  # issued_at_ms has ms resolution: the section is recorded a moment later, as in life
    central.bus.handle(
        CreateSection(section_id="S-1", entry_radar_id="R-1", exit_radar_id="R-2", distance_m=5000, speed_limit_kmh=90)
    )
    assert configs.publish_changes() == 2  # R-3 is in no section: unchanged
    latest = {topic.split("/")[3]: json.loads(payload) for topic, payload in published}
    assert [latest[radar_id].get("report_passages") for radar_id in ("R-1", "R-2", "R-3")] == [1, 1, None]
    before = [json.loads(payload) for topic, payload in published if "/R-1/" in topic]
    assert before[1]["issued_at_ms"] > before[0]["issued_at_ms"]  # newer, so the radar applies it
    central_key = Ed25519PublicKey.from_public_bytes(key.public_key)
    unsigned = {name: value for name, value in latest["R-1"].items() if name != "sig"}
    central_key.verify(keys.b64decode(latest["R-1"]["sig"]), canonical.dumps(unsigned))
