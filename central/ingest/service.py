"""The ingest as one start/stop-able part of central: MQTT session + pipeline + config push.

`central/bootstrap.py` builds it (`build_ingest`) with the radar lookup, the events recording a
violation and a passage, and the config key; `start()` and `stop()` it next to the REST API and the projection runner
(docs/mqtt.md).
"""

from __future__ import annotations

from speedledger import __version__
from speedledger.central.eventstore.port import EventStore
from speedledger.central.ingest.checks import RadarLookups
from speedledger.central.ingest.config_push import ConfigKey, ConfigPublisher
from speedledger.central.ingest.mqtt import MqttSession, now_ms
from speedledger.central.ingest.pipeline import Pipeline
from speedledger.central.ingest.settings import IngestSettings
from speedledger.central.ingest.writer import Recording
from speedledger.shared import canonical
from speedledger.shared.broker import BrokerAddress
from speedledger.shared.retained_speed import RetainedSpeedRule


def _status(state: str) -> bytes:
    return canonical.dumps({"state": state, "firmware": f"speedledger-central {__version__}", "at_ms": now_ms()})


class Ingest:
    def __init__(
        self,
        store: EventStore,
        settings: IngestSettings,
        *,
        radars: RadarLookups,
        recording: Recording,
        config_key: ConfigKey,
        rule: RetainedSpeedRule,
    ) -> None:
        """`rule`: the retained-speed rule radars get in their config (`central.fine_schedule.retained_rule`)."""
        self.settings = settings
        self.config_key = config_key
        self.session = MqttSession(
            BrokerAddress.from_url(settings.mqtt_url),
            settings.client_id,
            settings.subscriptions,
            lambda received: self.pipeline.submit(received),
            will=(settings.status_topic, _status("offline")),
            on_connected=self._connected,
            may_read=lambda timeout_s: self.pipeline.has_room(timeout_s),
        )
        self.pipeline = Pipeline(store, radars, self.session, recording, settings.limits)
        self.configs = ConfigPublisher(store, self.config_key, self._publish_retained, rule=rule)

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
