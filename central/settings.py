"""Central's settings: `Settings.from_env()`, the only reader of central's environment, checks every
setting before anything connects or creates a file.

Light on purpose: `speedledger central` reads and checks its settings before it imports the web stack
and the stores, so a bad setting is one line within a fraction of the start-up time. The composition
root (`central/bootstrap.py`) takes these settings.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url

from speedledger.central.auth import TokenAuthority, WeakSecret
from speedledger.central.errors import ConfigurationError
from speedledger.central.ingest.settings import CONFIG_KEY_FILE, DEFAULT_CLIENT_ID, IngestLimits, IngestSettings
from speedledger.central.sections.pairing import DEFAULT_MIN_CONFIDENCE_PM
from speedledger.central.sections.retention import DEFAULT_RETENTION_HOURS
from speedledger.central.settings_checks import broker_url, database_url, fine_schedule, http_address
from speedledger.shared import topics

DEFAULT_DB = "sqlite:///speedledger.db"
DEFAULT_HTTP = "127.0.0.1:8000"
#: The agency's time zone: the dashboard shows every time in it (SPEEDLEDGER_TIMEZONE).
DEFAULT_TIMEZONE = "Europe/Paris"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if not value:
        return default
    try:
        parsed = int(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer, got {value!r}") from None
    if parsed <= 0:
        raise ConfigurationError(f"{name} must be positive, got {parsed}")
    return parsed


def _positive_hours(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number of hours; fractions allowed (0.01 h is 36 s, for tests and demos)."""
    value = env.get(name)
    if not value:
        return default
    try:
        parsed = float(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of hours, got {value!r}") from None
    if not 0 < parsed < float("inf"):
        raise ConfigurationError(f"{name} must be a positive number of hours, got {value!r}")
    return parsed


def _default_config_key_path(db_url: str) -> Path:
    """Beside the SQLite database file, else in the current directory."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database:
        return Path(url.database).resolve().parent / CONFIG_KEY_FILE
    return Path.cwd() / CONFIG_KEY_FILE


def _ingest_settings(env: Mapping[str, str], mqtt_url: str, db_url: str) -> IngestSettings:
    defaults = IngestLimits()
    key_path = env.get("SPEEDLEDGER_CONFIG_KEY")
    return IngestSettings(
        mqtt_url=mqtt_url,
        client_id=env.get("SPEEDLEDGER_MQTT_CLIENT_ID") or DEFAULT_CLIENT_ID,
        share_group=env.get("SPEEDLEDGER_MQTT_SHARE_GROUP") or None,
        limits=IngestLimits(
            max_skew_ms=_positive_int(env, "SPEEDLEDGER_MAX_SKEW_MS", defaults.max_skew_ms),
            max_evidence_bytes=_positive_int(env, "SPEEDLEDGER_MAX_EVIDENCE_BYTES", defaults.max_evidence_bytes),
            max_batch=_positive_int(env, "SPEEDLEDGER_INGEST_BATCH", defaults.max_batch),
            inbox_messages=_positive_int(env, "SPEEDLEDGER_INGEST_INBOX_MESSAGES", defaults.inbox_messages),
            inbox_bytes=_positive_int(env, "SPEEDLEDGER_INGEST_INBOX_BYTES", defaults.inbox_bytes),
        ),
        config_key_path=Path(key_path) if key_path else _default_config_key_path(db_url),
        create_config_key=not key_path,
    )


@dataclass(frozen=True)
class Settings:
    db_url: str = DEFAULT_DB
    mqtt_url: str = topics.DEFAULT_MQTT_URL
    http: str = DEFAULT_HTTP
    #: Token signing key; `from_env` refuses to go without it outside demo mode.
    secret: str = ""
    #: The secret is a throw-away one made up because SPEEDLEDGER_SECRET is unset.
    throwaway_secret: bool = False
    demo: bool = False
    #: JSON fine schedule replacing the French default (SPEEDLEDGER_FINE_SCHEDULE).
    fine_schedule: Path | None = None
    #: Database of the owners' data keys (SPEEDLEDGER_KEYS_DB); default: `keys_url`.
    keys_db_url: str | None = None
    #: MQTT ingest settings read by `from_env`; None: the ingest's defaults (see `ingest_settings`).
    ingest: IngestSettings | None = None
    #: IANA zone name the dashboard shows times in (SPEEDLEDGER_TIMEZONE).
    timezone: str = DEFAULT_TIMEZONE
    #: Plate confidence (1/1000) a passage needs to pair in a section (SPEEDLEDGER_PASSAGE_MIN_CONFIDENCE_PM).
    passage_min_confidence_pm: int = DEFAULT_MIN_CONFIDENCE_PM
    #: How long a passage that leads to no infraction stays readable, at least (SPEEDLEDGER_PASSAGE_RETENTION_HOURS).
    passage_retention_hours: float = DEFAULT_RETENTION_HOURS

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, demo: bool | None = None, require_secret: bool = True
    ) -> Settings:
        """Settings from SPEEDLEDGER_* variables, each with a working default except the secret.

        Demo mode (`demo=True` or SPEEDLEDGER_DEMO=1), and offline tools that check no token
        (`require_secret=False`: rebuild, status), get a throw-away random secret when none is set.
        """
        env = os.environ if environ is None else environ
        demo = _truthy(env.get("SPEEDLEDGER_DEMO")) if demo is None else demo
        # Every setting is checked before anything connects or creates a file.
        secret, throwaway_secret = token_secret(env, demo=demo, require_secret=require_secret)
        schedule = env.get("SPEEDLEDGER_FINE_SCHEDULE")
        db_url = env.get("SPEEDLEDGER_DB") or DEFAULT_DB
        mqtt_url = broker_url_from_env(env)
        http = env.get("SPEEDLEDGER_HTTP") or DEFAULT_HTTP
        database_url(db_url)
        http_address(http)
        if schedule:
            fine_schedule(Path(schedule))
        ingest = _ingest_settings(env, mqtt_url, db_url)
        timezone = _timezone(env)
        return cls(
            db_url=db_url,
            mqtt_url=mqtt_url,
            http=http,
            secret=secret,
            throwaway_secret=throwaway_secret,
            demo=demo,
            fine_schedule=Path(schedule) if schedule else None,
            keys_db_url=env.get("SPEEDLEDGER_KEYS_DB") or None,
            ingest=ingest,
            timezone=timezone,
            passage_min_confidence_pm=_positive_int(
                env, "SPEEDLEDGER_PASSAGE_MIN_CONFIDENCE_PM", DEFAULT_MIN_CONFIDENCE_PM
            ),
            passage_retention_hours=_positive_hours(
                env, "SPEEDLEDGER_PASSAGE_RETENTION_HOURS", DEFAULT_RETENTION_HOURS
            ),
        )

    @property
    def ingest_settings(self) -> IngestSettings:
        """The ingest's settings; without `from_env`, its defaults (config key beside the database)."""
        return self.ingest or _ingest_settings({}, self.mqtt_url, self.db_url)

    @property
    def keys_url(self) -> str | None:
        """The key vault's database: SPEEDLEDGER_KEYS_DB, else a SQLite file beside a SQLite event
        database; None on PostgreSQL without SPEEDLEDGER_KEYS_DB (a table in the central database)."""
        from speedledger.central.registration.keyvault import default_keys_url  # the stores: not to check settings

        return self.keys_db_url or default_keys_url(self.db_url)

    @property
    def http_host(self) -> str:
        return http_address(self.http)[0]

    @property
    def http_port(self) -> int:
        return http_address(self.http)[1]


def token_secret(env: Mapping[str, str], *, demo: bool = False, require_secret: bool = True) -> tuple[str, bool]:
    """(SPEEDLEDGER_SECRET, checked strong enough; whether it is a throw-away one made up because it is
    unset: only in demo mode or for tools that check no token, else a ConfigurationError)."""
    secret = env.get("SPEEDLEDGER_SECRET", "")
    throwaway = not secret
    if throwaway:
        if not demo and require_secret:
            raise ConfigurationError(
                "SPEEDLEDGER_SECRET is not set: central signs API tokens with it and refuses to start "
                "without one outside demo mode (e.g. export SPEEDLEDGER_SECRET=$(openssl rand -hex 32))"
            )
        secret = secrets.token_hex(32)
    try:
        TokenAuthority(secret)
    except WeakSecret as error:
        raise ConfigurationError(str(error)) from None
    return secret, throwaway


def broker_url_from_env(env: Mapping[str, str]) -> str:
    """SPEEDLEDGER_MQTT (default: the local broker), checked to be a broker URL."""
    url = env.get("SPEEDLEDGER_MQTT") or topics.DEFAULT_MQTT_URL
    broker_url(url)
    return url


def _timezone(env: Mapping[str, str]) -> str:
    """SPEEDLEDGER_TIMEZONE, checked to be a zone this machine knows."""
    timezone = env.get("SPEEDLEDGER_TIMEZONE") or DEFAULT_TIMEZONE
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"SPEEDLEDGER_TIMEZONE: unknown time zone {timezone!r}") from None
    return timezone
