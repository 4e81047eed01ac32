"""Central-signed radar configs, published retained on `speedledger/v1/radars/{radar_id}/config`.

Payload (what `edge/core/config.py` verifies): canonical JSON of
`{"v":1,"radar_id":..,"speed_limit_kmh":..,"tolerance_kmh":..,"tolerance_pct":..,
"tolerance_threshold_kmh":..,"issued_at_ms":..,"key_id":..}` plus `sig`, Ed25519 by central's config
key over the canonical bytes without `sig`. The `tolerance_*` fields carry the deployment's
retained-speed rule (`shared/retained_speed.py`), so a radar reports exactly what central fines.
A radar of a section also gets `"report_passages":1` (CONTRACT §6). `issued_at_ms` is when central
recorded the radar's current limit (registration or last limit change), or when the rule came into
force, or when the radar was put in its first section, whichever is latest, so the same settings
always give the same bytes: publishing again (at every start, from every worker) changes nothing, and
a radar never takes an older config for a newer one.

The key lives in a PEM file (SPEEDLEDGER_CONFIG_KEY, default `central-config-key.pem` beside the
database); its public half is what radars are configured with. The default file is created on first
start; a file named by SPEEDLEDGER_CONFIG_KEY is created only by `speedledger central config-key
--create`, so a typo in the variable cannot silently replace the key the radars trust.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from speedledger.central.errors import ConfigurationError
from speedledger.central.eventstore.port import EventStore
from speedledger.central.ingest.config_rule import rule_in_force_since
from speedledger.central.ingest.mqtt import now_ms
from speedledger.central.radars.lookup import LIMIT_EVENT_TYPES, RadarState, load_radar_and_limit_time
from speedledger.central.sections.events import SectionCreated
from speedledger.shared import canonical, keys, topics
from speedledger.shared.retained_speed import RetainedSpeedRule

log = logging.getLogger(__name__)

SECTION_CREATED_TYPES = frozenset(SectionCreated.stored_type_names())
#: The only events a radar's config depends on; the publisher reads no others.
WATCHED_TYPES = LIMIT_EVENT_TYPES | SECTION_CREATED_TYPES
READ_PAGE = 1000
#: Shortest time between two looks at the log (appends in between are read together).
COALESCE_S = 0.2


class ConfigKey:
    """Central's Ed25519 config-signing key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self.public_key = private_key.public_key().public_bytes_raw()
        self.key_id = keys.key_id(self.public_key)

    @classmethod
    def load_or_create(cls, path: Path, *, create: bool = True) -> ConfigKey:
        """Read the PEM at `path`, or (with `create`) create it, mode 0600, when absent."""
        if path.exists():
            try:
                private = serialization.load_pem_private_key(path.read_bytes(), password=None)
            except (OSError, ValueError, TypeError) as error:
                raise ConfigurationError(f"SPEEDLEDGER_CONFIG_KEY: cannot read {path}: {error}") from None
            if not isinstance(private, Ed25519PrivateKey):
                raise ConfigurationError(f"SPEEDLEDGER_CONFIG_KEY: {path} is not an Ed25519 private key")
            return cls(private)
        if not create:
            raise ConfigurationError(
                f"SPEEDLEDGER_CONFIG_KEY: {path} does not exist; create it once with `speedledger central "
                "config-key --create` (radars provisioned with another key refuse the configs a new one signs)"
            )
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
        log.info("created central config key %s at %s", keys.key_id(private.public_key().public_bytes_raw()), path)
        return cls(private)

    def public_info(self) -> dict[str, str]:
        """What the API publishes so radars (and anyone) can check configs."""
        return {"algorithm": "Ed25519", "key_id": self.key_id, "public_key": keys.b64encode(self.public_key)}

    def sign(self, body: dict[str, Any]) -> bytes:
        """Canonical JSON of `body` with this key's `key_id` and `sig` added."""
        unsigned = {**body, "key_id": self.key_id}
        signature = self._private.sign(canonical.dumps(unsigned))
        return canonical.dumps({**unsigned, "sig": keys.b64encode(signature)})


def config_payload(
    radar: RadarState, issued_at_ms: int, rule: RetainedSpeedRule, key: ConfigKey, report_passages: bool = False
) -> bytes:
    body = {"v": 1, "radar_id": radar.radar_id, "speed_limit_kmh": radar.speed_limit_kmh, "issued_at_ms": issued_at_ms}
    if report_passages:
        body["report_passages"] = 1
    return key.sign({**body, **rule.config_fields()})


class ConfigPublisher:
    """Follows the event log and publishes a radar's config whenever its limit is set or changed.

    At start it goes through the log once, so every radar's current config is (re)published;
    afterwards it reads only what is new, woken by appends or every second. It asks the store for the
    events of `WATCHED_TYPES` only: the violations that make up nearly all the log are not read out.
    """

    def __init__(
        self,
        store: EventStore,
        key: ConfigKey,
        publish: Callable[[str, bytes], None],
        poll_s: float = 1.0,
        *,
        rule: RetainedSpeedRule,
    ) -> None:
        """`rule`: the deployment's retained-speed rule (`central.fine_schedule.retained_rule`)."""
        self._store = store
        self._key = key
        self._rule = rule
        self._rule_since_ms = rule_in_force_since(store.engine, self._rule, now_ms())
        self._publish = publish
        self._poll_s = poll_s
        self._position = 0
        self._published: dict[str, bytes] = {}
        #: Radars in a section -> when central recorded their first section.
        self._in_section_since: dict[str, int] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        self._unsubscribe = self._store.on_append(lambda _position: self._wake.set())
        self._thread = threading.Thread(target=self._run, name="ingest-config", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.publish_changes()
            except Exception:
                log.exception("config push failed; retrying")
            # Under traffic every ingest commit wakes us: look at most every COALESCE_S (a config
            # reaches its radar that much later, the violations' appends cost one look, not one each).
            self._stopping.wait(COALESCE_S)
            self._wake.wait(self._poll_s)
            self._wake.clear()

    def publish_changes(self) -> int:
        """Publish configs of radars whose limit or sections changed since the last call; returns how many."""
        changed: set[str] = set()
        # Everything up to `head` is visible now (appends become visible in position order), so once a
        # read returns less than a page, every event of the watched types up to `head` was in it.
        head = self._store.last_position()
        while True:
            batch = self._store.read_all(self._position, READ_PAGE, types=WATCHED_TYPES)
            for event in batch:
                if event.type in LIMIT_EVENT_TYPES:
                    changed.add(str(event.data["radar_id"]))
                else:
                    for radar_id in (str(event.data["entry_radar_id"]), str(event.data["exit_radar_id"])):
                        self._in_section_since.setdefault(radar_id, event.recorded_at_ms)
                        changed.add(radar_id)
            if len(batch) < READ_PAGE:
                self._position = max(self._position, head, *(event.position for event in batch[-1:]))
                break
            self._position = batch[-1].position
        count = 0
        for radar_id in sorted(changed):
            payload = self._current(radar_id)
            with self._lock:
                if payload is None or self._published.get(radar_id) == payload:
                    continue
                self._published[radar_id] = payload
            self._publish(topics.config(radar_id), payload)
            count += 1
        return count

    def republish(self) -> None:
        """Publish every config in force again (after a reconnect: a broker without persistence,
        like the embedded one, forgets retained messages when it restarts)."""
        with self._lock:
            published = list(self._published.items())
        for radar_id, payload in published:
            self._publish(topics.config(radar_id), payload)

    def _current(self, radar_id: str) -> bytes | None:
        found = load_radar_and_limit_time(self._store, radar_id)
        if found is None:
            return None
        radar, limit_at_ms = found
        issued_at_ms = max(limit_at_ms, self._rule_since_ms)
        section_at_ms = self._in_section_since.get(radar_id)
        if section_at_ms is None:
            return config_payload(radar, issued_at_ms, self._rule, self._key)
        return config_payload(radar, max(issued_at_ms, section_at_ms), self._rule, self._key, report_passages=True)
