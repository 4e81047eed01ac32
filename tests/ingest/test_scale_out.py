"""Two ingest workers behind a shared subscription: the load is split, every message recorded once."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable

import pytest

from speedledger.central.bootstrap import Central, build_ingest
from speedledger.central.infractions.events import violation_stream
from speedledger.central.ingest.mqtt import Received
from speedledger.central.ingest.settings import IngestSettings
from tests.ingest.harness import RadarClient, SigningRadar

pytestmark = pytest.mark.mosquitto


def test_shared_subscription_workers(
    central: Central,
    register: Callable[[str], SigningRadar],
    radar_client: Callable[[str], RadarClient],
    ingest_settings: IngestSettings,
) -> None:
    radars = [register(f"R-{index}") for index in range(3)]
    clients = [radar_client(radar.radar_id) for radar in radars]
    group = f"workers-{uuid.uuid4().hex[:6]}"
    workers = [
        build_ingest(
            central,
            dataclasses.replace(ingest_settings, client_id=f"{ingest_settings.client_id}-{index}", share_group=group),
        )
        for index in range(2)
    ]
    received: list[list[str]] = [[], []]
    for worker, log in zip(workers, received, strict=True):
        submit = worker.pipeline.submit

        def counting(message: Received, submit: Callable[[Received], None] = submit, log: list[str] = log) -> None:
            if message.topic.endswith("/violations"):
                log.append(message.topic)
            submit(message)

        worker.pipeline.submit = counting  # type: ignore[method-assign]
        worker.start(wait_s=10)
    try:
        sent = {radar.radar_id: [radar.violation() for _ in range(60)] for radar in radars}
        for radar, client in zip(radars, clients, strict=True):
            for message in sent[radar.radar_id]:
                client.send(message)
        for radar, client in zip(radars, clients, strict=True):
            client.wait_acks([message["event_id"] for message in sent[radar.radar_id]], timeout=60)
            # Resent by the radar: whichever worker gets it answers duplicate.
            for message in sent[radar.radar_id][:5]:
                client.send(message)
            for message in sent[radar.radar_id][:5]:
                assert client.ack_for(message["event_id"], count=2)["result"] == "duplicate"
    finally:
        for worker in workers:
            worker.stop()
    for radar, client in zip(radars, clients, strict=True):
        assert {acks[0]["result"] for acks in client.acks.values()} == {"accepted"}
        recorded = []
        for message in sent[radar.radar_id]:
            stream = violation_stream(radar.radar_id, message["seq"])
            recorded += [event.event_id for event in central.store.read_stream(stream)]
        assert recorded == [message["event_id"] for message in sent[radar.radar_id]]
    # The broker shared the work (each delivery went to one worker), every message processed.
    assert all(len(log) > 0 for log in received)
    assert sum(len(log) for log in received) >= 3 * 65
