"""Dashboard fixtures: a Central with the app around it (TestClient), and Playwright on Debian's chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

import tests.api.conftest as api_fixtures
from speedledger.central.auth import Role
from speedledger.central.bootstrap import Central
from speedledger.central.infractions.commands import RecordViolation
from speedledger.central.infractions.domain import infraction_id_for
from speedledger.central.radars.commands import RegisterRadar
from speedledger.central.registration.commands import RegisterOwner, RegisterVehicle
from tests.api.conftest import Tokens
from tests.api.factories import RadarKey, violation
from tests.conftest import missing_dependency
from tests.fixtures.metrology import VERIFIED

if TYPE_CHECKING:
    from playwright.sync_api import Browser

# The API tests' Central (on SQLite, then on PostgreSQL), its app, a TestClient on it, and tokens per role.
central = api_fixtures.central
app = api_fixtures.app
client = api_fixtures.client
tokens = api_fixtures.tokens

CHROMIUM = Path("/usr/bin/chromium")
#: Names that would run a script if a page printed them unescaped.
HOSTILE_NAME = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'
RADAR = "FR-DASH-1"
DETECTED_AT_MS = 1_764_316_800_123  # 2025-11-28 08:00:00.123 UTC: 09:00 in Paris


@dataclass(frozen=True)
class Recorded:
    key: RadarKey
    owner_id: str
    #: Charged to the owner (status issued), and an unknown plate's (status unidentified).
    issued: str
    unidentified: str


@pytest.fixture
def recorded(central: Central) -> Recorded:
    """A radar, an owner with a hostile name and a vehicle, and two infractions recorded through the bus."""
    key = RadarKey()
    central.bus.handle(
        RegisterRadar(
            radar_id=RADAR,
            name="A6 Paris",
            latitude=48.8,
            longitude=2.4,
            speed_limit_kmh=90,
            public_key=key.public_b64,
            metrology=(VERIFIED,),
        )
    )
    owner_id = central.bus.handle(RegisterOwner(name=HOSTILE_NAME, birth_date="1980-02-03", email="eve@example.org"))
    central.bus.handle(
        RegisterVehicle(
            plate="AB123CD",
            brand="Renault",
            model="Clio",
            fiscal_power=5,
            owner_id=owner_id,
            registered_at_ms=DETECTED_AT_MS - 86_400_000,
        )
    )
    issued = violation(key, RADAR, 1, plate="AB123CD", detected_at_ms=DETECTED_AT_MS)
    unknown = violation(key, RADAR, 2, plate="ZZ999ZZ", detected_at_ms=DETECTED_AT_MS + 60_000)
    for message in (issued, unknown):
        central.bus.handle(RecordViolation(message=message))
    return Recorded(key, owner_id, infraction_id_for(issued["event_id"]), infraction_id_for(unknown["event_id"]))


def sign_in(client: TestClient, tokens: Tokens, role: Role) -> str:
    """Open a session for `role` on `client`; returns the CSRF token its forms carry."""
    response = client.post("/sign-in", data={"token": tokens.token(role)}, follow_redirects=False)
    assert response.status_code == 303, response.text
    page = client.get("/sign-in")
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
    assert found, "a signed-in page carries the CSRF token in its sign-out form"
    return found.group(1)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Playwright's Chromium driver on the system browser (no browser download is possible here)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_dependency("playwright (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        missing_dependency("chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield browser
        finally:
            browser.close()
