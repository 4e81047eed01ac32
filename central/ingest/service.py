"""The ingest as one start/stop-able part of central: MQTT session + pipeline + config push.

`Ingest(central_store, settings.ingest_settings)` then `start()`; `speedledger central` does this
next to the REST API and the projection runner. Every setting has a working default; see docs/mqtt.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from speedledger import __version__
from speedledger.central.eventstore.port import EventStore
from speedledger.central.infractions.violations import violation_recorded
from speedledger.central.ingest.checks import RadarLookup
from speedledger.central.ingest.config_push import ConfigKey, ConfigPublisher
from speedledger.central.ingest.mqtt import MqttSession, now_ms
from speedledger.central.ingest.pipeline import Pipeline
from speedledger.central.ingest.settings import IngestLimits
from speedledger.central.radars.lookup import load_radar
from speedledger.shared import canonical, topics
from speedledger.shared.broker import BrokerAddress

if TYPE_CHECKING:
    from speedledger.central.bootstrap import Central, Settings

DEFAULT_CLIENT_ID = "speedledger-central"
CONFIG_KEY_FILE = "central-config-key.pem"


def _int_env(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if not value:
        return default
    try:
        parsed = int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if parsed <= 0:
        raise ValueError(f"{name} must be positive, got {parsed}")
    return parsed


def default_config_key_path(db_url: str) -> Path:
    """Beside the SQLite database file, else in the current directory."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database:
        return Path(url.database).resolve().parent / CONFIG_KEY_FILE
    return Path.cwd() / CONFIG_KEY_FILE


@dataclass(frozen=True)
class IngestSettings:
    mqtt_url: str = topics.DEFAULT_MQTT_URL
    #: MQTT client id: the broker keeps this id's session (queued messages) while central is down.
    client_id: str = DEFAULT_CLIENT_ID
    #: Shared-subscription group for several ingest workers (`$share/{group}/...`); None: one worker.
    share_group: str | None = None
    limits: IngestLimits = field(default_factory=IngestLimits)
    config_key_path: Path = Path(CONFIG_KEY_FILE)

    @classmethod
    def from_env(cls, mqtt_url: str, db_url: str, environ: Mapping[str, str] | None = None) -> IngestSettings:
        env = os.environ if environ is None else environ
        defaults = IngestLimits()
        key_path = env.get("SPEEDLEDGER_CONFIG_KEY")
        return cls(
            mqtt_url=mqtt_url,
            client_id=env.get("SPEEDLEDGER_MQTT_CLIENT_ID") or DEFAULT_CLIENT_ID,
            share_group=env.get("SPEEDLEDGER_MQTT_SHARE_GROUP") or None,
            limits=IngestLimits(
                max_skew_ms=_int_env(env, "SPEEDLEDGER_MAX_SKEW_MS", defaults.max_skew_ms),
                max_evidence_bytes=_int_env(env, "SPEEDLEDGER_MAX_EVIDENCE_BYTES", defaults.max_evidence_bytes),
                max_batch=_int_env(env, "SPEEDLEDGER_INGEST_BATCH", defaults.max_batch),
            ),
            config_key_path=Path(key_path) if key_path else default_config_key_path(db_url),
        )

    @property
    def status_topic(self) -> str:
        return topics.central_status(self.client_id)

    @property
    def subscriptions(self) -> list[str]:
        shared = f"$share/{self.share_group}/" if self.share_group else ""
        return [
            shared + topics.violations("+"),
            shared + topics.evidence("+", "+"),
            topics.status("+"),
            topics.central_status("+"),
        ]


def _status(state: str) -> bytes:
    return canonical.dumps({"state": state, "firmware": f"speedledger-central {__version__}", "at_ms": now_ms()})


class Ingest:
    def __init__(self, store: EventStore, settings: IngestSettings, *, radars: RadarLookup | None = None) -> None:
        self.settings = settings
        self.config_key = ConfigKey.load_or_create(settings.config_key_path)
        self.session = MqttSession(
            BrokerAddress.from_url(settings.mqtt_url),
            settings.client_id,
            settings.subscriptions,
            lambda received: self.pipeline.submit(received),
            will=(settings.status_topic, _status("offline")),
            on_connected=self._connected,
        )
        self.pipeline = Pipeline(
            store, radars or partial(load_radar, store), self.session, violation_recorded, settings.limits
        )
        self.configs = ConfigPublisher(store, self.config_key, self._publish_retained)

    def _connected(self) -> None:
        self.session.publish(self.settings.status_topic, _status("online"), retain=True)
        self.configs.republish()

    def _publish_retained(self, topic: str, payload: bytes) -> None:
        self.session.publish(topic, payload, retain=True)

    def start(self, wait_s: float | None = 5.0) -> None:
        self.pipeline.start()
        self.session.start(wait_s)
        self.configs.start()

    def stop(self) -> None:
        """Finish and ack what was received, then leave (saying so on the status topic)."""
        self.configs.stop()
        self.pipeline.stop()
        self.session.stop(final=(self.settings.status_topic, _status("offline")))


def central_config_key(settings: Settings) -> ConfigKey:
    """Central's config-signing key as the ingest uses it (for the API's public-key endpoint)."""
    return ConfigKey.load_or_create(settings.ingest_settings.config_key_path)


def start_ingest(central: Central) -> Callable[[], None]:
    """Start the ingest for a bootstrapped central (`speedledger central`); returns its stop."""
    ingest = Ingest(central.store, central.settings.ingest_settings)
    ingest.start()
    return ingest.stop
