"""Composition root: the one place that wires adapters to handlers, from central's `Settings`.

`Settings.from_env()` (central/settings.py) is the only reader of the environment. `bootstrap(settings)` returns a
`Central` holding the event store, the message bus (handlers with their dependencies bound), the
projection runner with every read model and the infraction process manager; `build_ingest(central)`
adds the MQTT ingest. Tests pass their own store, clock or key vault here; nothing else builds
these objects.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import Engine

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
from speedledger.central.ingest.settings import IngestSettings
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
from speedledger.central.registration.keyvault import SqlKeyVault, keys_engine
from speedledger.central.registration.personal_data import KeyVault, PersonalDataCipher
from speedledger.central.registration.projection import RegistrationProjection
from speedledger.central.sections.forgetting import PassageForgetting
from speedledger.central.sections.handlers import HANDLERS as SECTION_HANDLERS
from speedledger.central.sections.pairing import SectionPairingManager
from speedledger.central.sections.passages import PassageRecorder
from speedledger.central.sections.projection import SectionsProjection
from speedledger.central.sections.retention import PassageWindows, retention_ms
from speedledger.central.settings import Settings

log = logging.getLogger(__name__)


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


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
