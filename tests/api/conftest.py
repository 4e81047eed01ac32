"""A real SQLite-backed Central from `bootstrap()` in a temp dir, the app around it, and tokens per role."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from speedledger.central.auth import Role, TokenAuthority
from speedledger.central.bootstrap import Central, Settings, bootstrap
from speedledger.central.entrypoints.api import create_app
from speedledger.central.entrypoints.api.app import StreamSettings
from speedledger.central.ingest.config_push import ConfigKey

SECRET = "api-test-secret-" + "0123456789abcdef" * 2
#: Fast SSE timing so stream tests see heartbeats and new events within a fraction of a second.
FAST_STREAM = StreamSettings(poll_s=0.05, heartbeat_s=0.3)


class Tokens:
    def __init__(self, secret: str) -> None:
        self.authority = TokenAuthority(secret)

    def token(self, role: Role, subject: str = "tester") -> str:
        return self.authority.mint(role, subject, ttl_s=600)

    def headers(
        self, role: Role, *, subject: str = "tester", expired: bool = False, foreign: bool = False
    ) -> dict[str, str]:
        authority = TokenAuthority("another-secret-" + "x" * 32) if foreign else self.authority
        now = int(time.time()) - (3600 if expired else 0)
        return {"Authorization": f"Bearer {authority.mint(role, subject, ttl_s=600, now=now)}"}


def make_central(directory: Path, db_url: str | None = None) -> Central:
    """A Central on `db_url`, by default a SQLite file in `directory` (which also holds its config key)."""
    directory.mkdir(parents=True, exist_ok=True)
    ConfigKey.load_or_create(directory / "central-config-key.pem")  # a named key must exist (config-key --create)
    environ = {
        "SPEEDLEDGER_SECRET": SECRET,
        "SPEEDLEDGER_DB": db_url or f"sqlite:///{directory / 'central.db'}",
        "SPEEDLEDGER_CONFIG_KEY": str(directory / "central-config-key.pem"),  # never in the cwd
    }
    return bootstrap(Settings.from_env(environ))


@pytest.fixture
def central(database_url: str, tmp_path: Path) -> Iterator[Central]:
    """Central on each store in turn: SQLite, then PostgreSQL (the `database_url` fixture)."""
    central = make_central(tmp_path, database_url)
    try:
        yield central
    finally:
        central.close()


@pytest.fixture
def app(central: Central) -> FastAPI:
    return create_app(central, stream=FAST_STREAM)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="session")
def tokens() -> Tokens:
    return Tokens(SECRET)


@pytest.fixture(scope="module")
def module_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """One app for a whole module of read-mostly tests (the access matrix)."""
    central = make_central(tmp_path_factory.mktemp("central"))
    try:
        yield create_app(central, stream=FAST_STREAM)
    finally:
        central.close()
