"""`speedledger keys generate`, `central rebuild` and `central status` as a user runs them."""

from __future__ import annotations

import json
import signal
import stat
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from speedledger.central.bootstrap import Settings, bootstrap
from speedledger.cli import app
from speedledger.shared import keys
from tests.central.conftest import FakeClock, World, make_central, start_demo_central
from tests.fixtures.mosquitto import free_port

runner = CliRunner()


def test_keys_generate_writes_a_pkcs8_key_and_prints_its_public_half(tmp_path: Path) -> None:
    out = tmp_path / "radar.pem"
    result = runner.invoke(app, ["keys", "generate", "--out", str(out)])
    assert result.exit_code == 0, result.output
    private_key = serialization.load_pem_private_key(out.read_bytes(), password=None)
    assert isinstance(private_key, Ed25519PrivateKey)
    assert out.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    public_raw = private_key.public_key().public_bytes_raw()
    expected = [f"public_key: {keys.b64encode(public_raw)}", f"key_id: {keys.key_id(public_raw)}"]
    assert result.output.splitlines() == expected


def test_keys_generate_never_overwrites_by_accident(tmp_path: Path) -> None:
    out = tmp_path / "radar.pem"
    out.write_text("precious")
    refused = runner.invoke(app, ["keys", "generate", "--out", str(out)])
    assert refused.exit_code == 1 and "exists" in refused.output
    assert out.read_text() == "precious"
    replaced = runner.invoke(app, ["keys", "generate", "--out", str(out), "--force", "--json"])
    assert replaced.exit_code == 0, replaced.output
    printed = json.loads(replaced.output)
    private_key = serialization.load_pem_private_key(out.read_bytes(), password=None)
    assert isinstance(private_key, Ed25519PrivateKey)
    assert printed["key_id"] == keys.key_id(private_key.public_key().public_bytes_raw())


def test_rebuild_and_status(tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    db_url = f"sqlite:///{tmp_path / 'central.db'}"
    central = make_central(db_url, clock)
    world = World(central, clock)
    world.record(world.radar().violation())
    head = central.store.last_position()
    central.close()
    monkeypatch.setenv("SPEEDLEDGER_DB", db_url)
    monkeypatch.delenv("SPEEDLEDGER_SECRET", raising=False)

    one = runner.invoke(app, ["central", "rebuild", "infractions"])
    assert one.exit_code == 0, one.output
    assert one.output.startswith(f"infractions: rebuilt up to position {head}, ")
    every = runner.invoke(app, ["central", "rebuild"])
    assert every.exit_code == 0, every.output
    *rebuilt, read = every.output.splitlines()
    assert [line.split(":")[0] for line in rebuilt] == [p.name for p in central.projections]
    assert read.startswith(f"one read of {head} events ")
    unknown = runner.invoke(app, ["central", "rebuild", "nope"])
    assert unknown.exit_code == 2
    assert "known: " + ", ".join(p.name for p in central.projections) in unknown.output
    status = runner.invoke(app, ["central", "status"])
    assert status.exit_code == 0, status.output
    assert f"infractions: position {head} of {head} (lag 0) ok" in status.output


def test_central_refuses_to_start_without_a_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SPEEDLEDGER_SECRET", raising=False)
    monkeypatch.delenv("SPEEDLEDGER_DEMO", raising=False)
    monkeypatch.setenv("SPEEDLEDGER_DB", f"sqlite:///{tmp_path / 'central.db'}")
    result = runner.invoke(app, ["central"])
    assert result.exit_code == 2
    assert "SPEEDLEDGER_SECRET is not set" in result.output


def test_central_serves_the_api_until_interrupted(tmp_path: Path) -> None:
    """`speedledger central --demo --no-ingest` as a user starts it, then Ctrl-C."""
    port = free_port()
    environ = {"SPEEDLEDGER_DB": f"sqlite:///{tmp_path / 'central.db'}", "SPEEDLEDGER_HTTP": f"127.0.0.1:{port}"}
    process = start_demo_central(environ, tmp_path)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        assert lines[0].startswith(f"speedledger central: API on http://127.0.0.1:{port}"), lines
        # Where a new user goes next: the Swagger UI and how to get a token.
        assert f"http://127.0.0.1:{port}/docs" in lines[1] and "speedledger token mint" in lines[1], lines
        token = lines[3].strip()
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/radars", headers={"Authorization": f"Bearer {token}"}
                )
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert response.status_code == 200 and response.json()["items"] == []
        process.send_signal(signal.SIGINT)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


STARTUP_S = 60
"""How long a started central may take to answer: a loaded CI box has taken more than 20 s."""


def _projection_lags(port: int, deadline_s: float) -> dict[str, int]:
    """The projections' lag from `/health`, once the API answers (waiting up to `deadline_s`)."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            health = httpx.get(f"http://127.0.0.1:{port}/health").json()
            return {name: projection["lag"] for name, projection in health["projections"].items()}
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_central_without_projections_leaves_them_to_another_process(tmp_path: Path, clock: FakeClock) -> None:
    """`--no-projections`: an ingest worker beside the one process that runs the projections."""
    db_url = f"sqlite:///{tmp_path / 'central.db'}"
    central = bootstrap(Settings(db_url=db_url, secret="domain-tests"), clock=clock, read_your_writes=False)
    world = World(central, clock)
    world.record(world.radar().violation())  # appended; no projection has applied it
    central.close()
    port = free_port()
    environ = {"SPEEDLEDGER_DB": db_url, "SPEEDLEDGER_HTTP": f"127.0.0.1:{port}"}

    worker = start_demo_central(environ, tmp_path, "--no-projections")
    try:
        _projection_lags(port, STARTUP_S)
        time.sleep(1.5)  # longer than the runner's poll: a running runner would have caught up
        assert all(lag > 0 for lag in _projection_lags(port, 20).values())
    finally:
        worker.send_signal(signal.SIGINT)
        worker.wait(20)

    projector = start_demo_central(environ, tmp_path)
    try:
        deadline = time.monotonic() + STARTUP_S
        while any(_projection_lags(port, STARTUP_S).values()):
            assert time.monotonic() < deadline, "the projections never caught up"
            time.sleep(0.1)
    finally:
        projector.send_signal(signal.SIGINT)
        projector.wait(20)
