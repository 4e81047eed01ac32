"""Central-signed radar configuration: verify before applying. MicroPython-safe.

Payload on `speedledger/v1/radars/{radar_id}/config` (retained, QoS 1): canonical JSON

    {"v":1,"radar_id":..,"speed_limit_kmh":..,"tolerance_kmh":5,"tolerance_pct":5,
     "tolerance_threshold_kmh":100,"report_passages":1,"issued_at_ms":..,"key_id":..,"sig":..}

`sig` is Ed25519 by central's config key over the canonical bytes without `sig` (the same rule as
violations); `key_id` names that key. `tolerance_*` carry the deployment's retained-speed rule
(`shared/retained_speed.py`); each is optional and defaults to the French rule, so a config from an
older central still works. `report_passages` (CONTRACT §6, optional, default 0) is 1 when the radar
is in a section and reports every plate it reads. A config is applied only
when its signature verifies with the configured central key, it names this radar, and it is newer
than the one in force (`issued_at_ms` strictly greater), so a replayed old config cannot lower or
raise the limit.
"""

import json

from speedledger.shared import canonical, keys
from speedledger.shared.retained_speed import CONFIG_FIELDS, RetainedSpeedRule

from .violation import SpeedPolicy


class ConfigError(ValueError):
    """The config was refused; the message says why."""


class StaleConfig(ConfigError):
    """The config is not newer than the one in force (a replay, or the retained copy again)."""


class RadarConfig:
    def __init__(self, policy: SpeedPolicy, issued_at_ms: int, payload: bytes, report_passages: bool = False) -> None:
        self.policy = policy
        self.issued_at_ms = issued_at_ms
        self.report_passages = report_passages
        #: The signed bytes as received, kept so the device can re-verify them after a reboot.
        self.payload = payload


def _int_field(message: dict, name: str, low: int, high: int) -> int:
    value = message.get(name)
    if not isinstance(value, int) or value is True or value is False or not low <= value <= high:
        raise ConfigError(name + " must be an integer between " + str(low) + " and " + str(high))
    return value


def verify_config(payload: bytes, radar_id: str, central_public_key: bytes, verify: object) -> RadarConfig:
    """Parse and check a config payload; `verify(public_key, message, signature) -> bool` is Ed25519."""
    try:
        message = json.loads(payload)
    except ValueError:
        raise ConfigError("config is not JSON") from None
    if not isinstance(message, dict):
        raise ConfigError("config must be a JSON object")
    sig = message.get("sig")
    if not isinstance(sig, str):
        raise ConfigError("config has no signature")
    if message.get("key_id") != keys.key_id(central_public_key):
        raise ConfigError("config signed by another key than the configured central key")
    try:
        signed_bytes = canonical.signing_bytes(message)
        signature = keys.b64decode(sig)
    except ValueError:
        raise ConfigError("config is not canonical") from None
    if not verify(central_public_key, signed_bytes, signature):  # type: ignore[operator]
        raise ConfigError("config signature does not verify")
    if message.get("v") != 1:
        raise ConfigError("unsupported config version")
    if message.get("radar_id") != radar_id:
        raise ConfigError("config is for another radar")
    rule = {}
    for name in CONFIG_FIELDS:
        if name in message:
            low, high = CONFIG_FIELDS[name]
            rule[name] = _int_field(message, name, low, high)
    policy = SpeedPolicy(_int_field(message, "speed_limit_kmh", 1, 300), RetainedSpeedRule.from_config_fields(rule))
    issued_at_ms = _int_field(message, "issued_at_ms", 0, 2**53 - 1)
    report_passages = "report_passages" in message and _int_field(message, "report_passages", 0, 1) == 1
    return RadarConfig(policy, issued_at_ms, payload, report_passages)


class ConfigState:
    """The config in force: a local default until a newer, verified central config arrives."""

    def __init__(self, radar_id: str, default: SpeedPolicy, central_public_key: bytes | None, verify: object) -> None:
        self.radar_id = radar_id
        self.policy = default
        self.issued_at_ms = -1
        #: Report a passage for every plate read (section control); only a central config turns it on.
        self.report_passages = False
        self._central_public_key = central_public_key
        self._verify = verify

    def apply(self, payload: bytes) -> RadarConfig:
        """Verify and apply; raises ConfigError when refused (stale configs included)."""
        if self._central_public_key is None:
            raise ConfigError("no central config key configured; config ignored")
        config = verify_config(payload, self.radar_id, self._central_public_key, self._verify)
        if config.issued_at_ms <= self.issued_at_ms:
            raise StaleConfig("config is not newer than the one in force")
        self.policy = config.policy
        self.issued_at_ms = config.issued_at_ms
        self.report_passages = config.report_passages
        return config
