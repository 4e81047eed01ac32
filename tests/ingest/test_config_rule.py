"""The signed config carries the retained-speed rule with the limit, so a radar reports exactly the
passes central fines, whatever the deployment's fine schedule; older configs keep working."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from speedledger.central.bootstrap import Central, Settings, bootstrap
from speedledger.central.errors import ConfigurationError
from speedledger.central.infractions import fines
from speedledger.central.ingest.config_push import ConfigKey, ConfigPublisher
from speedledger.edge.core import ed25519
from speedledger.edge.core.config import ConfigState
from speedledger.edge.core.violation import SpeedPolicy
from speedledger.shared import canonical, keys
from speedledger.shared.retained_speed import RetainedSpeedRule
from tests.ingest.harness import SigningRadar

#: Another deployment's rule: 3 km/h off below 130 km/h, 3 % from 130 km/h.
OTHER_RULE = {"threshold_kmh": 130, "below_threshold_subtract_kmh": 3, "from_threshold_percent": 97}


@pytest.fixture
def central(tmp_path: Path) -> Iterator[Central]:
    schedule = json.loads((Path(fines.__file__).parent / "fine_schedule.json").read_text())
    schedule["name"], schedule["retained_speed"] = "other", OTHER_RULE
    path = tmp_path / "schedule.json"
    path.write_text(json.dumps(schedule))
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'central.db'}", secret="config-tests", fine_schedule=path)
    central = bootstrap(settings)
    yield central
    central.close()


def register(central: Central, limit_kmh: int) -> None:
    central.bus.handle(SigningRadar("R-1").registration(speed_limit_kmh=limit_kmh))


def published_config(central: Central, tmp_path: Path, rule: RetainedSpeedRule) -> bytes:
    key = ConfigKey.load_or_create(tmp_path / "config-key.pem")
    published: list[bytes] = []
    ConfigPublisher(central.store, key, lambda _topic, payload: published.append(payload), rule=rule).publish_changes()
    (payload,) = published
    return payload


def pushed_config(central: Central, tmp_path: Path, limit_kmh: int) -> tuple[bytes, bytes]:
    """Register a radar, and return (its published config, central's config public key)."""
    register(central, limit_kmh)
    payload = published_config(central, tmp_path, central.fine_schedule.retained_rule)
    return payload, ConfigKey.load_or_create(tmp_path / "config-key.pem").public_key


@pytest.mark.parametrize("limit_kmh", [50, 90, 130])
def test_the_radar_reports_exactly_what_central_fines(central: Central, tmp_path: Path, limit_kmh: int) -> None:
    payload, central_key = pushed_config(central, tmp_path, limit_kmh)
    radar = ConfigState("R-1", SpeedPolicy(limit_kmh), central_key, ed25519.verify)
    radar.apply(payload)
    for measured_ckmh in range(limit_kmh * 100 - 500, limit_kmh * 130 + 1000, 7):
        fined = central.fine_schedule.retained_speed_kmh(measured_ckmh) > limit_kmh
        assert radar.policy.is_violation(measured_ckmh) is fined, measured_ckmh


def test_the_rule_travels_as_additive_fields(central: Central, tmp_path: Path) -> None:
    payload, _ = pushed_config(central, tmp_path, 90)
    config = json.loads(payload)
    assert (config["tolerance_kmh"], config["tolerance_pct"], config["tolerance_threshold_kmh"]) == (3, 3, 130)
    assert {"v", "radar_id", "speed_limit_kmh", "issued_at_ms", "key_id", "sig"} <= set(config)


def test_a_new_rule_reaches_radars_holding_the_old_one(central: Central, tmp_path: Path) -> None:
    register(central, 90)
    french = published_config(central, tmp_path, RetainedSpeedRule())
    assert published_config(central, tmp_path, RetainedSpeedRule()) == french  # a restart changes nothing
    other = published_config(central, tmp_path, central.fine_schedule.retained_rule)
    assert published_config(central, tmp_path, central.fine_schedule.retained_rule) == other
    key = ConfigKey.load_or_create(tmp_path / "config-key.pem").public_key
    radar = ConfigState("R-1", SpeedPolicy(90), key, ed25519.verify)
    radar.apply(french)
    radar.apply(other)  # newer: applied, not refused as stale
    assert radar.policy.rule.threshold_kmh == 130


def test_a_config_from_an_older_central_keeps_the_french_rule() -> None:
    signer = ed25519.Ed25519Signer(bytes(32))
    body = {"v": 1, "radar_id": "R-1", "speed_limit_kmh": 90, "issued_at_ms": 1, "key_id": signer.key_id}
    payload = canonical.dumps({**body, "sig": keys.b64encode(signer.sign(canonical.dumps(body)))})
    radar = ConfigState("R-1", SpeedPolicy(70), signer.public_key, ed25519.verify)
    radar.apply(payload)
    assert (radar.policy.speed_limit_kmh, radar.policy.retained_kmh(10000), radar.policy.retained_kmh(9999)) == (
        90,
        95,
        94,
    )


def test_a_schedule_whose_rule_radars_cannot_carry_is_refused(tmp_path: Path) -> None:
    schedule = json.loads((Path(fines.__file__).parent / "fine_schedule.json").read_text())
    schedule["retained_speed"]["below_threshold_subtract_kmh"] = 60
    path = tmp_path / "schedule.json"
    path.write_text(json.dumps(schedule))
    with pytest.raises(ConfigurationError, match="tolerance_kmh must be between 0 and 50"):
        fines.load_fine_schedule(path)
