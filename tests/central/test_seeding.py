"""`speedledger central seed FILE`: a re-runnable seed through the message bus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from speedledger.central.errors import Invalid
from speedledger.central.infractions import queries
from speedledger.central.infractions.domain import infraction_id_for
from speedledger.central.seeding import seed
from speedledger.cli import app
from tests.central.conftest import T0, FakeClock, Radar, make_central
from tests.fixtures.metrology import verified_body

OWNER = "5b1c7d0e-8a61-4e0b-9f3a-0c2d4e6f8a10"


def _document(tmp_path: Path, radar: Radar, violation: dict[str, object]) -> dict[str, object]:
    key_file = tmp_path / "radar.pem"
    key_file.write_bytes(
        radar.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return {
        "radars": [
            {
                "radar_id": radar.radar_id,
                "name": "A6",
                "latitude": 48.6,
                "longitude": 2.4,
                "speed_limit_kmh": 90,
                "key_file": "radar.pem",
                "metrology": verified_body(),
            }
        ],
        "owners": [{"owner_id": OWNER, "name": "Alice", "birth_date": "1980-04-01", "email": "a@example.fr"}],
        "vehicles": [
            {
                "plate": "gz-123-qk",
                "brand": "Renault",
                "model": "Clio",
                "fiscal_power": 5,
                "owner_id": OWNER,
                "registered_at_ms": 0,
            }
        ],
        "violations": [violation],
    }


def test_seed_file_twice(tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    radar = Radar("FR-A6-012")
    violation = radar.violation()
    document = _document(tmp_path, radar, violation)
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(document))
    db_url = f"sqlite:///{tmp_path / 'central.db'}"
    monkeypatch.setenv("SPEEDLEDGER_DB", db_url)
    monkeypatch.delenv("SPEEDLEDGER_SECRET", raising=False)
    runner = CliRunner()

    first = runner.invoke(app, ["central", "seed", str(seed_file)])
    assert first.exit_code == 0, first.output
    assert first.output.splitlines() == [
        "owners created: 1",
        "radars created: 1",
        "vehicles created: 1",
        "violations created: 1",
    ]
    again = runner.invoke(app, ["central", "seed", str(seed_file)])
    assert again.exit_code == 0, again.output
    assert again.output.splitlines() == [
        "owners existing: 1",
        "radars existing: 1",
        "vehicles existing: 1",
        "violations existing: 1",
    ]
    central = make_central(db_url, clock)
    try:
        central.runner.catch_up()
        with central.engine.connect() as conn:
            infraction = queries.get_infraction(conn, infraction_id_for(str(violation["event_id"])), central.cipher)
    finally:
        central.close()
    assert infraction is not None and (infraction.owner_id, infraction.detected_at_ms) == (OWNER, T0)


def test_malformed_seeds(tmp_path: Path, clock: FakeClock) -> None:
    central = make_central(f"sqlite:///{tmp_path / 'central.db'}", clock)
    try:
        with pytest.raises(Invalid, match="unknown seed sections: cars"):
            seed(central.bus, {"cars": []})
        with pytest.raises(Invalid, match=r"owners\[0\]: .*colour"):
            seed(central.bus, {"owners": [{"name": "A", "birth_date": "1980-01-01", "email": "a@b.fr", "colour": 1}]})
        with pytest.raises(Invalid, match="not a readable PEM"):
            radar = {"radar_id": "R1", "name": "R", "latitude": 1, "longitude": 2, "speed_limit_kmh": 50}
            seed(central.bus, {"radars": [radar | {"key_file": "absent.pem"}]}, tmp_path)
        with pytest.raises(Invalid, match=r"vehicles\[0\]: missing field .*fiscal_power"):
            seed(central.bus, {"vehicles": [{"plate": "AB123CD", "brand": "R", "model": "C", "owner_id": "x"}]})
    finally:
        central.close()
