"""Composition root: settings from the environment, and one place that wires adapters to handlers.

`Settings.from_env()` is the only reader of the environment. `bootstrap(settings)` returns a
`Central` holding the event store, the message bus (handlers with their dependencies bound), the
projection runner with every read model and the infraction process manager; `build_ingest(central)`
adds the MQTT ingest. Tests pass their own store, clock or key vault here; nothing else builds
these objects.
"""

from __future__ import annotations

import inspect
import logging
import os
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from speedledger.central.auth import TokenAuthority, WeakSecret
from speedledger.central.errors import ConfigurationError
from speedledger.central.eventstore import EventStore, create_event_store
from speedledger.central.infractions.fines import FineSchedule, load_fine_schedule
from speedledger.central.infractions.handlers import HANDLERS as INFRACTION_HANDLERS
from speedledger.central.infractions.process_manager import InfractionProcessManager
from speedledger.central.infractions.projection import InfractionsProjection
from speedledger.central.infractions.violations import violation_recorded
from speedledger.central.ingest.config_push import ConfigKey
from speedledger.central.ingest.kinds import PASSAGE, VIOLATION
from speedledger.central.ingest.projection import EvidenceProjection
from speedledger.central.ingest.service import Ingest
from speedledger.central.ingest.settings import CONFIG_KEY_FILE, DEFAULT_CLIENT_ID, IngestLimits, IngestSettings
from speedledger.central.ingest.tables import create_tables as create_ingest_tables
from speedledger.central.ingest.writer import RecordBuilders, Recording
from speedledger.central.messagebus import MessageBus
from speedledger.central.messages import Clock, Command
from speedledger.central.projections.port import Projection
from speedledger.central.projections.runner import ProjectionRunner
from speedledger.central.projections.statistics import StatisticsRefresher
from speedledger.central.radars.handlers import HANDLERS as RADAR_HANDLERS
from speedledger.central.radars.lookup import radar_cache
from speedledger.central.radars.projection import RadarsProjection
from speedledger.central.registration.handlers import HANDLERS as REGISTRATION_HANDLERS
from speedledger.central.registration.keyvault import SqlKeyVault, default_keys_url, keys_engine
from speedledger.central.registration.personal_data import KeyVault, PersonalDataCipher
from speedledger.central.registration.projection import RegistrationProjection
from speedledger.central.sections.forgetting import PassageForgetting
from speedledger.central.sections.handlers import HANDLERS as SECTION_HANDLERS
from speedledger.central.sections.pairing import DEFAULT_MIN_CONFIDENCE_PM, SectionPairingManager
from speedledger.central.sections.passages import PassageRecorder
from speedledger.central.sections.projection import SectionsProjection
from speedledger.central.sections.retention import DEFAULT_RETENTION_HOURS, PassageWindows, retention_ms
from speedledger.central.settings_checks import broker_url, database_url, fine_schedule, http_address
from speedledger.shared import topics

log = logging.getLogger(__name__)

DEFAULT_DB = "sqlite:///speedledger.db"
DEFAULT_HTTP = "127.0.0.1:8000"
#: The agency's time zone: the dashboard shows every time in it (SPEEDLEDGER_TIMEZONE).
DEFAULT_TIMEZONE = "Europe/Paris"


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


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


@dataclass
class Central:
    settings: Settings
    store: EventStore
    bus: MessageBus
    runner: ProjectionRunner
    vault: KeyVault
    fine_schedule: FineSchedule
    clock: Clock
    #: The retention windows sealing passages (keys in `vault`).
    passages: PassageWindows
    #: The query planner's statistics (SQLite), refreshed in the background once started.
    statistics: StatisticsRefresher
    projections: Sequence[Projection] = field(default_factory=list)

    @property
    def engine(self) -> Engine:
        """The database the read models live in: `with central.engine.connect() as conn: queries...(conn)`."""
        return self.store.engine

    @property
    def cipher(self) -> PersonalDataCipher:
        """Opens owners' personal data at read time (read models hold only the sealed envelope)."""
        return PersonalDataCipher(self.vault)

    @property
    def recording(self) -> Recording:
        """How the ingest records each kind of signed radar message, and seals passages and their images."""
        builders: RecordBuilders = {VIOLATION.name: violation_recorded, PASSAGE.name: PassageRecorder(self.passages)}
        return Recording(builders, self.passages)

    @property
    def forgetting(self) -> PassageForgetting:
        """What closes the passages' retention windows (`speedledger central` runs it periodically)."""
        return PassageForgetting(self.engine, self.passages, self.runner.catch_up_to_now)

    def close(self) -> None:
        self.statistics.stop()
        self.runner.close()
        if isinstance(self.vault, SqlKeyVault):
            self.vault.close()
        self.store.close()


def build_projections(
    store: EventStore, schedule: FineSchedule, clock: Clock, passages: PassageWindows, min_confidence_pm: int
) -> list[Projection]:
    # The process managers last: the runner applies projections in this order in one transaction, so
    # their appends (and PostgreSQL's append lock) come just before the commit.
    return [
        RadarsProjection(),
        SectionsProjection(),
        RegistrationProjection(),
        InfractionsProjection(),
        EvidenceProjection(passages),
        SectionPairingManager(store, schedule, clock, passages, min_confidence_pm),
        InfractionProcessManager(store, schedule, clock),
    ]


def _bind(handler: Callable[..., Any], dependencies: Mapping[str, Any]) -> Callable[[Any], Any]:
    wanted = list(inspect.signature(handler).parameters)[1:]
    return partial(handler, **{name: dependencies[name] for name in wanted})


def bootstrap(
    settings: Settings,
    *,
    store: EventStore | None = None,
    vault: KeyVault | None = None,
    clock: Clock = wall_clock_ms,
    read_your_writes: bool = True,
) -> Central:
    """Wire central. With `read_your_writes` the bus catches projections up after each command, so a
    query right after `bus.handle(...)` sees its effects (the REST API relies on it)."""
    store = store or create_event_store(settings.db_url)
    # Quarantine, evidence and liveness rows are written by the ingest but read by the API and the
    # evidence projection even in a process that runs no ingest.
    create_ingest_tables(store.engine)
    if vault is None:
        keys_url = settings.keys_url
        if keys_url:
            vault = SqlKeyVault(keys_engine(keys_url), owns_engine=True)
            vault.adopt_keys_from(store.engine)
        else:
            log.warning(
                "owner data keys share the central database: set SPEEDLEDGER_KEYS_DB so that backups of "
                "the events never hold them (docs/operations.md)"
            )
            vault = SqlKeyVault(store.engine)
    schedule = load_fine_schedule(settings.fine_schedule)
    passages = PassageWindows(vault, retention_ms(settings.passage_retention_hours), clock)
    projections = build_projections(store, schedule, clock, passages, settings.passage_min_confidence_pm)
    runner = ProjectionRunner(store, projections)
    dependencies = {"store": store, "vault": vault, "clock": clock, "passages": passages}
    handlers: dict[type[Command], Callable[[Any], Any]] = {
        command: _bind(handler, dependencies)
        for command, handler in {
            **RADAR_HANDLERS,
            **SECTION_HANDLERS,
            **REGISTRATION_HANDLERS,
            **INFRACTION_HANDLERS,
        }.items()
    }
    bus = MessageBus(handlers, after_handle=runner.catch_up_to_now if read_your_writes else None)
    return Central(
        settings=settings,
        store=store,
        bus=bus,
        runner=runner,
        vault=vault,
        fine_schedule=schedule,
        clock=clock,
        passages=passages,
        statistics=StatisticsRefresher(store),
        projections=projections,
    )


def central_config_key(settings: Settings) -> ConfigKey:
    """Central's config-signing key, as the ingest signs with it and the API publishes it (the default file
    is created on first use; a file named by SPEEDLEDGER_CONFIG_KEY only by `central config-key --create`)."""
    ingest = settings.ingest_settings
    return ConfigKey.load_or_create(ingest.config_key_path, create=ingest.create_config_key)


def build_ingest(central: Central, settings: IngestSettings | None = None) -> Ingest:
    """The MQTT ingest of a bootstrapped central, on `settings` (default: the central's); not started."""
    settings = settings or central.settings.ingest_settings
    store = central.store
    return Ingest(
        store,
        settings,
        radars=radar_cache(store).lookup,
        recording=central.recording,
        config_key=ConfigKey.load_or_create(settings.config_key_path, create=settings.create_config_key),
        rule=central.fine_schedule.retained_rule,
    )


def start_ingest(central: Central) -> Ingest:
    """Start the ingest of a bootstrapped central on its own settings (`speedledger central`); `.stop()` it."""
    ingest = build_ingest(central)
    ingest.start()
    return ingest
