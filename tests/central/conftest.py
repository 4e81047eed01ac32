"""A real central (SQLite event store, SQL key vault, projection runner) on a clock the test drives."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection

from speedledger.central.bootstrap import Central, Settings, bootstrap
from speedledger.central.infractions.commands import RecordViolation
from speedledger.central.radars.commands import RegisterRadar
from speedledger.central.radars.metrology import MetrologyRecord
from speedledger.central.registration.commands import RegisterOwner, RegisterVehicle
from speedledger.shared import canonical, keys
from tests.fixtures.metrology import VERIFIED

#: 2025-11-28T08:00:00Z, the contract vector's day.
T0 = 1_764_316_800_000
HOUR = 3_600_000


@dataclass
class FakeClock:
    now: int = T0

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> int:
        self.now += ms
        return self.now


@dataclass
class Radar:
    radar_id: str
    private_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    seq: int = 0

    @property
    def public_key(self) -> str:
        return keys.b64encode(self.private_key.public_key().public_bytes_raw())

    @property
    def key_id(self) -> str:
        return keys.key_id(self.private_key.public_key().public_bytes_raw())

    def violation(self, **fields: Any) -> dict[str, Any]:
        """A signed violation message; any field can be overridden (before signing)."""
        defaults = {
            "detected_at_ms": T0,
            "speed_limit_kmh": 90,
            "measured_speed_ckmh": 10432,
            "plate_confidence_pm": 987,
            "snr_cdb": 2350,
            "frames": 14,
        }
        return self._signed(defaults | fields)

    def passage(self, **fields: Any) -> dict[str, Any]:
        """A signed passage (CONTRACT §6) on the radar's seq counter; any field can be overridden."""
        return self._signed({"passed_at_ms": T0, "clock_uncertainty_ms": 0, "plate_confidence_pm": 950} | fields)

    def _signed(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The next message on the radar's seq counter: the envelope both kinds share, then `fields`, signed."""
        self.seq += 1
        message: dict[str, Any] = {
            "v": 1,
            "event_id": str(uuid.uuid4()),
            "radar_id": self.radar_id,
            "seq": self.seq,
            "direction": "approaching",
            "plate": "GZ123QK",
            "image_sha256": "a1560975691a0d4585b578058a0dcefb853971ed365c545443f77ed503842372",
            "firmware": "1.0.0",
            "key_id": self.key_id,
        }
        message.update(fields)
        return sign(message, self.private_key)


def sign(message: dict[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    unsigned = {name: value for name, value in message.items() if name != "sig"}
    return {**unsigned, "sig": base64.b64encode(private_key.sign(canonical.dumps(unsigned))).decode()}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def start_demo_central(environ: Mapping[str, str], cwd: Path, *options: str) -> subprocess.Popen[str]:
    """`speedledger central --demo --no-ingest [options]` as a user starts it, output (stdout and stderr)
    piped; `environ` is added to this process's environment, without SPEEDLEDGER_SECRET."""
    env = {name: value for name, value in {**os.environ, **environ}.items() if name != "SPEEDLEDGER_SECRET"}
    return subprocess.Popen(
        [sys.executable, "-m", "speedledger", "central", "--demo", "--no-ingest", *options],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def make_central(db_url: str, clock: FakeClock) -> Central:
    return bootstrap(Settings(db_url=db_url, secret="domain-tests"), clock=clock)


@pytest.fixture
def central(database_url: str, clock: FakeClock) -> Iterator[Central]:
    """On SQLite and on PostgreSQL (tests.fixtures.postgres)."""
    central = make_central(database_url, clock)
    try:
        yield central
    finally:
        central.close()


@pytest.fixture
def conn(central: Central) -> Iterator[Connection]:
    with central.engine.connect() as conn:
        yield conn


class World:
    """Seeds radars, owners and vehicles through the message bus, as any client would."""

    def __init__(self, central: Central, clock: FakeClock) -> None:
        self.central = central
        self.clock = clock

    def radar(
        self,
        radar_id: str = "FR-A6-012",
        speed_limit_kmh: int = 90,
        metrology: tuple[MetrologyRecord, ...] = (VERIFIED,),
    ) -> Radar:
        """A registered radar, by default with a periodic verification in force at every test's detection time."""
        radar = Radar(radar_id)
        self.central.bus.handle(
            RegisterRadar(
                radar_id=radar_id,
                name=f"Radar {radar_id}",
                latitude=48.8,
                longitude=2.3,
                speed_limit_kmh=speed_limit_kmh,
                public_key=radar.public_key,
                metrology=metrology,
            )
        )
        return radar

    def owner(self, name: str = "Alice Martin", email: str = "alice@example.fr") -> str:
        owner_id: str = self.central.bus.handle(RegisterOwner(name=name, birth_date="1980-04-01", email=email))
        return owner_id

    def vehicle(self, plate: str, owner_id: str, registered_at_ms: int = T0 - 365 * 24 * HOUR) -> str:
        registered: str = self.central.bus.handle(
            RegisterVehicle(
                plate=plate,
                brand="Renault",
                model="Clio",
                fiscal_power=5,
                owner_id=owner_id,
                registered_at_ms=registered_at_ms,
            )
        )
        return registered

    def record(self, message: dict[str, Any]) -> str:
        result: str = self.central.bus.handle(RecordViolation(message=message))
        return result


@pytest.fixture
def world(central: Central, clock: FakeClock) -> World:
    return World(central, clock)
