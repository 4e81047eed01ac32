"""The broker and central a simulation runs against: started here (and so open to faults) or already running.

With nothing configured the simulator starts the embedded broker and central on SQLite in its work
folder. `SPEEDLEDGER_MQTT` targets a running broker, `SPEEDLEDGER_HTTP` with `SPEEDLEDGER_TOKEN`
(an admin bearer token) a running central; faults that kill or restart one need it started here.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from speedledger.central.auth.roles import Role
from speedledger.central.auth.tokens import TokenAuthority
from speedledger.simulator.processes import SpeedledgerProcess, free_port, port_open, wait_for


class DeploymentError(ValueError):
    """The configured deployment cannot run the scenario (one line naming the variable)."""


class Restartable(Protocol):
    def restart(self) -> None:
        """Bring the service down (broker: a clean stop; central: kill -9) and up again; return when it serves."""
        ...


class BrokerLike(Restartable, Protocol):
    @property
    def url(self) -> str: ...


@dataclass
class Deployment:
    mqtt_url: str
    base_url: str
    token: str
    broker: Restartable | None  # None: not ours to restart
    central: Restartable | None

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30)


class ManagedBroker:
    """`speedledger broker`, the embedded zero-setup broker."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.process = SpeedledgerProcess(["broker"], env | {"SPEEDLEDGER_MQTT": self.url}, workdir / "broker.log")

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process.start()
        wait_for("the embedded broker", lambda: port_open(self.port))

    def restart(self) -> None:
        self.process.stop()
        self.start()

    def stop(self) -> None:
        self.process.stop()


class ManagedCentral:
    """`speedledger central` on this machine; `restart` is a crash: kill -9, then start again."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = env | {"SPEEDLEDGER_HTTP": f"127.0.0.1:{self.port}"}
        self.process = SpeedledgerProcess(["central"], env, workdir / "central.log")

    def start(self) -> None:
        self.process.start()
        wait_for("central", lambda: httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200, 60)

    def restart(self) -> None:
        self.process.kill()
        self.start()

    def stop(self) -> None:
        self.process.stop()


@contextmanager
def local(
    workdir: Path,
    database_url: str | None = None,
    broker: BrokerLike | None = None,
    settings: Mapping[str, str] | None = None,
) -> Iterator[Deployment]:
    """Central (SQLite in `workdir` unless `database_url`; `settings`: more SPEEDLEDGER_* variables) and,
    unless `broker` is given, the embedded broker."""
    secret = secrets.token_hex(32)
    env = (
        dict(os.environ)
        | dict(settings or {})
        | {
            "SPEEDLEDGER_DB": database_url or f"sqlite:///{workdir.resolve()}/central.db",
            "SPEEDLEDGER_SECRET": secret,
            "SPEEDLEDGER_CONFIG_KEY": str(workdir.resolve() / "central-config-key.pem"),
        }
    )
    # Central signs radar configs with this key and creates it only when told (docs/operations.md).
    subprocess.run(
        [sys.executable, "-m", "speedledger", "central", "config-key", "--create"],
        env=env,
        check=True,
        capture_output=True,
    )
    with ExitStack() as stack:
        if broker is None:
            managed = ManagedBroker(workdir, env)
            managed.start()
            stack.callback(managed.stop)
            broker = managed
        central = ManagedCentral(workdir, env | {"SPEEDLEDGER_MQTT": broker.url})
        central.start()
        stack.callback(central.stop)
        token = TokenAuthority(secret).mint(role=Role.ADMIN, subject="simulator")
        yield Deployment(broker.url, central.base_url, token, broker, central)


@contextmanager
def from_environment(workdir: Path, environ: Mapping[str, str] = os.environ) -> Iterator[Deployment]:
    """A running deployment where SPEEDLEDGER_MQTT / SPEEDLEDGER_HTTP say so; what they leave out is started here."""
    http = environ.get("SPEEDLEDGER_HTTP")
    mqtt_url = environ.get("SPEEDLEDGER_MQTT")
    if http is None:
        external_broker = _ExternalBroker(mqtt_url) if mqtt_url else None
        with local(workdir, environ.get("SPEEDLEDGER_DB"), external_broker) as deployment:
            if external_broker is not None:
                deployment.broker = None
            yield deployment
        return
    token = environ.get("SPEEDLEDGER_TOKEN")
    if not token:
        raise DeploymentError("SPEEDLEDGER_HTTP is set: also set SPEEDLEDGER_TOKEN to an admin bearer token")
    if not mqtt_url:
        raise DeploymentError("SPEEDLEDGER_HTTP is set: also set SPEEDLEDGER_MQTT to the broker that central uses")
    base_url = http if urlsplit(http).scheme else f"http://{http}"
    yield Deployment(mqtt_url, base_url, token, broker=None, central=None)


@dataclass
class _ExternalBroker:
    url: str

    def restart(self) -> None:
        raise DeploymentError("the broker at SPEEDLEDGER_MQTT is not the simulator's to restart")
