"""The global event log: paged reads and the live SSE stream (on a real uvicorn server)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from speedledger.central.auth import Role
from tests.api.conftest import Tokens
from tests.api.factories import RadarKey, radar_body
from tests.api.server import running, serve

STREAM = "/api/v1/events/stream"


def add_radars(client: TestClient | httpx.Client, tokens: Tokens, *radar_ids: str) -> None:
    for radar_id in radar_ids:
        response = client.post(
            "/api/v1/radars", json=radar_body(radar_id, RadarKey(), verified=False), headers=tokens.headers(Role.ADMIN)
        )
        assert response.status_code == 201, response.text


def test_log_pages_in_order(client: TestClient, tokens: Tokens) -> None:
    add_radars(client, tokens, "E1", "E2", "E3")
    client.patch("/api/v1/radars/E1", json={"name": "renamed"}, headers=tokens.headers(Role.ADMIN))
    headers = tokens.headers(Role.AGENCY)
    everything = client.get("/api/v1/events", params={"limit": 1000}, headers=headers).json()
    positions = [event["position"] for event in everything["items"]]
    assert positions == sorted(positions) and len(positions) >= 4
    assert everything["next_after"] == positions[-1]
    first = everything["items"][0]
    assert first["type"] == "RadarRegistered"
    assert first["stream_id"] and first["version"] == 1 and first["event_id"] and first["recorded_at_ms"] > 0
    assert first["metadata"]["actor"] == "tester"

    paged, after = [], 0
    while True:
        page = client.get("/api/v1/events", params={"after": after, "limit": 2}, headers=headers).json()
        if not page["items"]:
            assert page["next_after"] == after
            break
        paged += page["items"]
        after = page["next_after"]
    assert paged == everything["items"]


def test_log_bad_query_is_422(client: TestClient, tokens: Tokens) -> None:
    for params in ({"after": -1}, {"limit": 0}, {"limit": 1001}, {"after": 2**63}, {"after": "x"}):
        response = client.get("/api/v1/events", params=params, headers=tokens.headers(Role.AGENCY))
        assert response.status_code == 422, params


@dataclass
class Message:
    id: str | None = None
    event: str | None = None
    data: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    retry: str | None = None


def messages(response: httpx.Response) -> Iterator[Message]:
    """SSE messages as the browser's EventSource parses them (comments kept, for heartbeats)."""
    current = Message()
    for line in response.iter_lines():
        if line == "":
            yield current
            current = Message()
        elif line.startswith(":"):
            current.comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                current.data.append(value)
            elif name in ("id", "event", "retry"):
                setattr(current, name, value)


def next_event(stream: Iterator[Message]) -> Message:
    return next(message for message in stream if message.id is not None)


@pytest.fixture
def base_url(app: FastAPI) -> Iterator[str]:
    with serve(app) as url:
        yield url


def stream_requests(base_url: str) -> float:
    """How many stream requests the server has finished (from its own /metrics)."""
    text = httpx.get(f"{base_url}/metrics").text
    pattern = f'speedledger_http_requests_total{{method="GET",route="{STREAM}",status="200"}} '
    return sum(float(line.removeprefix(pattern)) for line in text.splitlines() if line.startswith(pattern))


def test_stream_replays_then_follows_live_with_heartbeats(base_url: str, tokens: Tokens) -> None:
    with httpx.Client(base_url=base_url, timeout=5) as client:
        add_radars(client, tokens, "S1", "S2")
        with client.stream("GET", STREAM, headers=tokens.headers(Role.AGENCY)) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = messages(response)
            hello = next(stream)
            assert hello.retry is not None and hello.id is None
            replayed = [next_event(stream) for _ in range(2)]
            assert [m.id for m in replayed] == ["1", "2"]
            assert [m.event for m in replayed] == ["RadarRegistered", "RadarRegistered"]
            assert [json.loads(m.data[0])["data"]["radar_id"] for m in replayed] == ["S1", "S2"]

            started = time.monotonic()
            add_radars(client, tokens, "S3")
            live = next_event(stream)
            assert live.id == "3" and json.loads(live.data[0])["position"] == 3
            assert time.monotonic() - started < 1.0  # woken by the append, not a slow poll

            idle = next(stream)
            assert idle.id is None and "heartbeat" in idle.comments
        # The client went away: the server ends the stream and records the finished request.
        deadline = time.monotonic() + 5
        while stream_requests(base_url) < 1:
            assert time.monotonic() < deadline, "the stream did not end after the client disconnected"
            time.sleep(0.05)


def test_stream_resumes_after_last_event_id(base_url: str, tokens: Tokens) -> None:
    with httpx.Client(base_url=base_url, timeout=5) as client:
        add_radars(client, tokens, "L1", "L2", "L3")
        for headers, params, first in (
            ({"Last-Event-ID": "2"}, {}, "3"),
            ({}, {"after": 1}, "2"),
            ({"Last-Event-ID": "2"}, {"after": 0}, "3"),  # the reconnecting browser's header wins
        ):
            with client.stream("GET", STREAM, params=params, headers=headers | tokens.headers(Role.ADMIN)) as response:
                assert next_event(messages(response)).id == first


def test_stream_refuses_a_bad_last_event_id(base_url: str, tokens: Tokens) -> None:
    for last_event_id in ("abc", "-1", "1.5", str(2**64), "١"):
        headers = [(b"Last-Event-ID", last_event_id.encode())]  # bytes: the header may hold non-ASCII digits
        headers += [(name.encode(), value.encode()) for name, value in tokens.headers(Role.ADMIN).items()]
        response = httpx.get(f"{base_url}{STREAM}", headers=headers, timeout=5)
        assert response.status_code == 422, last_event_id
        assert "Last-Event-ID" in response.json()["detail"]


def test_server_shutdown_ends_open_streams_cleanly(app: FastAPI, tokens: Tokens) -> None:
    """Ctrl-C on `speedledger central` with a dashboard open: the stream ends, the server stops at once."""
    with running(app) as (url, server), httpx.Client(base_url=url, timeout=5) as client:
        add_radars(client, tokens, "D1")
        with client.stream("GET", STREAM, headers=tokens.headers(Role.ADMIN)) as response:
            stream = messages(response)
            assert next_event(stream).id == "1"
            started = time.monotonic()
            server.should_exit = True
            rest = list(stream)  # ends without a protocol error: the server finished the response
            assert all(message.id is None for message in rest)
            assert time.monotonic() - started < 2  # well before the 5 s graceful-shutdown timeout
