"""Ingest settings from the environment (read by the composition root) and broker URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from speedledger.central.bootstrap import Settings
from speedledger.central.errors import ConfigurationError
from speedledger.central.ingest.settings import IngestSettings
from speedledger.shared.broker import BrokerAddress

SECRET = "s" * 32


def ingest_settings(db_url: str, env: dict[str, str]) -> IngestSettings:
    return Settings.from_env({"SPEEDLEDGER_SECRET": SECRET, "SPEEDLEDGER_DB": db_url, **env}).ingest_settings


def test_defaults_and_overrides(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/central.db"
    defaults = ingest_settings(db_url, {})
    assert defaults.client_id == "speedledger-central"
    assert defaults.limits.max_skew_ms == 300_000
    assert defaults.config_key_path == tmp_path / "central-config-key.pem"
    assert defaults.subscriptions[0] == "speedledger/v1/radars/+/violations"
    custom = ingest_settings(
        db_url,
        {
            "SPEEDLEDGER_MQTT_CLIENT_ID": "worker-2",
            "SPEEDLEDGER_MQTT_SHARE_GROUP": "ingest",
            "SPEEDLEDGER_MAX_SKEW_MS": "60000",
            "SPEEDLEDGER_CONFIG_KEY": str(tmp_path / "k.pem"),
        },
    )
    assert (custom.client_id, custom.limits.max_skew_ms) == ("worker-2", 60_000)
    assert custom.subscriptions[:3] == [
        "$share/ingest/speedledger/v1/radars/+/violations",
        "$share/ingest/speedledger/v1/radars/+/evidence/+",
        "$share/ingest/speedledger/v1/radars/+/passages",
    ]
    assert custom.status_topic == "speedledger/v1/central/worker-2/status"
    assert custom.config_key_path == tmp_path / "k.pem"


@pytest.mark.parametrize("value", ["five minutes", "-1", "0"])
def test_bad_numbers_are_refused_with_the_variable_named(value: str) -> None:
    with pytest.raises(ConfigurationError, match="SPEEDLEDGER_MAX_SKEW_MS"):
        ingest_settings("sqlite:///x.db", {"SPEEDLEDGER_MAX_SKEW_MS": value})


def test_broker_urls() -> None:
    assert BrokerAddress.from_url("mqtt://127.0.0.1:1883") == BrokerAddress("127.0.0.1", 1883)
    assert BrokerAddress.from_url("mqtts://broker.example") == BrokerAddress("broker.example", 8883, tls=True)
    with_auth = BrokerAddress.from_url("mqtt://speedledger-central:p%40ss@broker:1884")
    assert (with_auth.username, with_auth.password, with_auth.port) == ("speedledger-central", "p@ss", 1884)
    with pytest.raises(ValueError, match="unsupported MQTT URL"):
        BrokerAddress.from_url("http://broker:1883")
