"""The ingest's settings, each with a working default. `central/settings.py` reads them from the
environment (docs/configuration.md lists the variables); nothing in the ingest does."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from speedledger.shared import topics

DEFAULT_CLIENT_ID = "speedledger-central"
CONFIG_KEY_FILE = "central-config-key.pem"


@dataclass(frozen=True)
class IngestLimits:
    max_skew_ms: int = 5 * 60 * 1000
    max_evidence_bytes: int = 4 * 1024 * 1024
    max_batch: int = 256
    #: Bound of the inbox between the MQTT network thread and the checks (inbox.py): beyond it the
    #: ingest stops reading and the broker holds the messages.
    inbox_messages: int = 1024
    inbox_bytes: int = 16 * 1024 * 1024
    #: Threads checking a large batch in parallel (signature verification runs outside the GIL).
    verify_threads: int = min(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class IngestSettings:
    mqtt_url: str = topics.DEFAULT_MQTT_URL
    #: MQTT client id: the broker keeps this id's session (queued messages) while central is down.
    client_id: str = DEFAULT_CLIENT_ID
    #: Shared-subscription group for several ingest workers (`$share/{group}/...`); None: one worker.
    share_group: str | None = None
    limits: IngestLimits = field(default_factory=IngestLimits)
    #: Central's config-signing key (PEM).
    config_key_path: Path = Path(CONFIG_KEY_FILE)
    #: Create the key when absent: only for the default path; a path named by SPEEDLEDGER_CONFIG_KEY
    #: must exist (`speedledger central config-key --create`), so a typo cannot make a new key.
    create_config_key: bool = True

    @property
    def status_topic(self) -> str:
        return topics.central_status(self.client_id)

    @property
    def subscriptions(self) -> list[str]:
        shared = f"$share/{self.share_group}/" if self.share_group else ""
        return [
            shared + topics.violations("+"),
            shared + topics.evidence("+", "+"),
            shared + topics.passages("+"),
            topics.status("+"),
            topics.central_status("+"),
        ]
