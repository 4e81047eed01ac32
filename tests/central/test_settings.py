"""Settings from the environment (CONTRACT §4): working defaults, and no start without a secret."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from speedledger.central.bootstrap import Settings
from speedledger.central.errors import ConfigurationError

SECRET = "s3cret-" + "x" * 32


def test_defaults() -> None:
    settings = Settings.from_env({"SPEEDLEDGER_SECRET": SECRET})
    assert (settings.db_url, settings.mqtt_url, settings.http) == (
        "sqlite:///speedledger.db",
        "mqtt://127.0.0.1:1883",
        "127.0.0.1:8000",
    )
    assert (settings.http_host, settings.http_port, settings.secret, settings.demo) == (
        "127.0.0.1",
        8000,
        SECRET,
        False,
    )
    assert settings.fine_schedule is None and settings.keys_db_url is None
    assert settings.passage_min_confidence_pm == 800
    assert settings.passage_retention_hours == 24
    assert not settings.throwaway_secret


def test_everything_from_the_environment(tmp_path: Path) -> None:
    schedule = tmp_path / "fines.json"
    schedule.write_text(resources.files("speedledger.central.infractions").joinpath("fine_schedule.json").read_text())
    settings = Settings.from_env(
        {
            "SPEEDLEDGER_DB": "postgresql://db/speed",
            "SPEEDLEDGER_MQTT": "mqtt://broker:1884",
            "SPEEDLEDGER_HTTP": "0.0.0.0:9000",
            "SPEEDLEDGER_SECRET": SECRET,
            "SPEEDLEDGER_FINE_SCHEDULE": str(schedule),
            "SPEEDLEDGER_KEYS_DB": "sqlite:///keys.db",
            "SPEEDLEDGER_PASSAGE_MIN_CONFIDENCE_PM": "900",
            "SPEEDLEDGER_PASSAGE_RETENTION_HOURS": "0.01",
        }
    )
    assert (settings.db_url, settings.mqtt_url, settings.http_host, settings.http_port) == (
        "postgresql://db/speed",
        "mqtt://broker:1884",
        "0.0.0.0",
        9000,
    )
    assert settings.fine_schedule == schedule
    assert settings.keys_db_url == "sqlite:///keys.db"
    assert settings.passage_min_confidence_pm == 900
    assert settings.passage_retention_hours == 0.01  # 36 s: short windows for demos and tests


def test_secret_required_outside_demo_mode() -> None:
    with pytest.raises(ConfigurationError, match="SPEEDLEDGER_SECRET is not set"):
        Settings.from_env({})
    demo = Settings.from_env({"SPEEDLEDGER_DEMO": "1"})
    assert demo.demo and len(demo.secret) == 64 and demo.throwaway_secret
    assert Settings.from_env({}, demo=True).secret != demo.secret  # throw-away, never a fixed default
    offline = Settings.from_env({}, require_secret=False)  # rebuild, status: no token is minted or checked
    assert not offline.demo and len(offline.secret) == 64


def test_ingest_settings_come_from_the_same_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "SPEEDLEDGER_SECRET": SECRET,
            "SPEEDLEDGER_DB": f"sqlite:///{tmp_path}/central.db",
            "SPEEDLEDGER_MQTT_CLIENT_ID": "worker-2",
            "SPEEDLEDGER_MAX_SKEW_MS": "60000",
        }
    )
    ingest = settings.ingest_settings
    assert (ingest.client_id, ingest.limits.max_skew_ms) == ("worker-2", 60_000)
    assert ingest.config_key_path == tmp_path / "central-config-key.pem"
    with pytest.raises(ConfigurationError, match="SPEEDLEDGER_MAX_SKEW_MS"):
        Settings.from_env({"SPEEDLEDGER_SECRET": SECRET, "SPEEDLEDGER_MAX_SKEW_MS": "five minutes"})


def test_weak_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        Settings.from_env({"SPEEDLEDGER_SECRET": "short"})


def test_bad_http_address() -> None:
    with pytest.raises(ConfigurationError, match="HOST:PORT"):
        _ = Settings.from_env({"SPEEDLEDGER_SECRET": SECRET, "SPEEDLEDGER_HTTP": "localhost"}).http_port
