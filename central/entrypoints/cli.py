"""`speedledger central|token` commands. Heavy imports stay inside the commands (fast CLI start)."""

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from speedledger.central.auth.roles import Role

if TYPE_CHECKING:
    from speedledger.central.bootstrap import Central
    from speedledger.central.settings import Settings

central_app = typer.Typer(
    help="Central: ingest, projections and the REST API in one process (`speedledger central`).",
    invoke_without_command=True,
)
T = TypeVar("T")

token_app = typer.Typer(help="Bearer tokens for the REST API.", no_args_is_help=True)


@token_app.command("mint")
def mint_token(
    role: Annotated[Role, typer.Option(help="admin, operator (radars), registry (owners, vehicles) or agency.")],
    subject: Annotated[str, typer.Option(help="Who the token is for; recorded as the actor of their commands.")],
    ttl: Annotated[str, typer.Option(help="Lifetime: seconds, or a number with s, m, h or d.")] = "8h",
) -> None:
    """Print a bearer token for the REST API, signed with SPEEDLEDGER_SECRET (HS256, with an expiry)."""
    from speedledger.central.auth import TokenAuthority, parse_ttl
    from speedledger.central.settings import token_secret

    secret, _ = exit_on_configuration_error(lambda: token_secret(os.environ))
    try:
        token = TokenAuthority(secret).mint(role, subject, parse_ttl(ttl))
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    typer.echo(token)


@central_app.callback()
def run_central(
    ctx: typer.Context,
    demo: Annotated[
        bool, typer.Option(help="Demo mode: a throw-away token secret when SPEEDLEDGER_SECRET is unset.")
    ] = False,
    ingest: Annotated[bool, typer.Option(help="Consume radar violations from SPEEDLEDGER_MQTT.")] = True,
    projections: Annotated[
        bool,
        typer.Option(
            help="Run the projection runner (read models, process managers) and the forgetting of passages. "
            "--no-projections: an ingest worker beside one process that runs them (--no-ingest): "
            "PostgreSQL scale-out, or SQLite on two cores (docs/operations.md)."
        ),
    ] = True,
) -> None:
    """Run the REST API, the projections and the MQTT ingest until interrupted.

    Configuration: SPEEDLEDGER_DB, SPEEDLEDGER_MQTT, SPEEDLEDGER_HTTP, SPEEDLEDGER_SECRET,
    SPEEDLEDGER_FINE_SCHEDULE, SPEEDLEDGER_KEYS_DB (docs/domain.md).
    """
    if ctx.invoked_subcommand is not None:
        return
    from speedledger.central.entrypoints.process_memory import limit_malloc_arenas

    limit_malloc_arenas()  # before any of central's threads start
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The settings first: a bad one is one line before the web stack and the stores are even imported.
    settings = central_settings(demo=demo or None)
    from speedledger.central.bootstrap import central_config_key, start_ingest
    from speedledger.central.entrypoints.api.server import listen, serve
    from speedledger.central.eventstore import redacted_url

    # Everything that can be wrong is found before the broker sees us: a second central that cannot
    # start must not take over the running one's MQTT session.
    http_socket = exit_on_configuration_error(lambda: listen(settings.http_host, settings.http_port))
    central = connect_central(settings)
    ingest_part = None
    forgetting = central.forgetting
    try:
        if ingest:
            exit_on_configuration_error(lambda: central_config_key(settings))
            ingest_part = start_ingest(central)
        if projections:  # forgetting catches the projections up first: it runs where they run
            central.runner.start()
            forgetting.start()
        central.statistics.start()
        settings = central.settings
        typer.echo(f"speedledger central: API on http://{settings.http}, database {redacted_url(settings.db_url)}")
        typer.echo(
            f"Swagger UI: http://{settings.http}/docs (tokens: speedledger token mint --role ROLE --subject NAME)"
        )
        if settings.demo and settings.throwaway_secret:
            from speedledger.central.auth import TokenAuthority

            token = TokenAuthority(settings.secret).mint(Role.ADMIN, "demo", 24 * 3600)
            typer.echo(f"demo mode: throw-away token secret; admin bearer token for this run:\n{token}")
        broker = None if ingest_part is None else ingest_part.session.state
        serve(central, http_socket, broker=broker)  # ends open SSE streams on Ctrl-C
    finally:
        forgetting.stop()
        if ingest_part is not None:
            ingest_part.stop()
        central.close()


def exit_on_configuration_error(step: "Callable[[], T]") -> "T":
    """Run `step`; a ConfigurationError becomes one line on stderr and exit status 2."""
    from speedledger.central.errors import ConfigurationError

    try:
        return step()
    except ConfigurationError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


def central_settings(*, demo: bool | None, require_secret: bool = True, existing_db: bool = False) -> "Settings":
    """Settings from the environment; `existing_db` for commands that must not create a database."""
    from speedledger.central.settings import Settings
    from speedledger.central.settings_checks import existing_database

    settings = exit_on_configuration_error(lambda: Settings.from_env(demo=demo, require_secret=require_secret))
    if existing_db:
        exit_on_configuration_error(lambda: existing_database(settings.db_url))
    return settings


def connect_central(settings: "Settings", *, read_your_writes: bool = True) -> "Central":
    """Central for `settings`; a database that does not answer is one line naming SPEEDLEDGER_DB."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    from speedledger.central.bootstrap import bootstrap
    from speedledger.central.errors import ConfigurationError
    from speedledger.central.eventstore import redacted_url

    def connect() -> "Central":
        try:
            return bootstrap(settings, read_your_writes=read_your_writes)
        except (OperationalError, InterfaceError) as error:
            reason = str(error.orig or error).strip().splitlines()[0]
            raise ConfigurationError(
                f"SPEEDLEDGER_DB: cannot connect to {redacted_url(settings.db_url)}: {reason}"
            ) from None

    return exit_on_configuration_error(connect)


@central_app.command("rebuild")
def rebuild(
    projection: Annotated[str | None, typer.Argument(help="Projection name; all of them when omitted.")] = None,
) -> None:
    """Rebuild read models from the event log (position 0) and swap them in atomically.

    Every projection (or the one named) from one read of the log. Safe while `speedledger central`
    runs: reads keep using the old tables until the swap.
    """
    from speedledger.central.projections.statistics import refresh_statistics

    central = connect_central(
        central_settings(demo=None, require_secret=False, existing_db=True), read_your_writes=False
    )
    try:
        names = list(central.runner.projections)
        if projection is not None and projection not in names:
            typer.echo(f"error: no projection {projection!r}; known: {', '.join(names)}", err=True)
            raise typer.Exit(2)
        rebuilt = central.runner.rebuild(*([projection] if projection else names))
        for name, seconds in rebuilt.applying_s.items():
            typer.echo(f"{name}: rebuilt up to position {rebuilt.position}, {seconds:.2f} s applying its events")
        typer.echo(
            f"one read of {rebuilt.events} events ({rebuilt.reading_s:.2f} s reading and decoding), "
            f"{rebuilt.seconds:.2f} s in all"
        )
        refresh_statistics(central.store)  # SQLite: the swap rebuilt the indexes without their statistics
    finally:
        central.close()


@central_app.command("seed")
def seed_central(
    file: Annotated[Path, typer.Argument(help="JSON with radars, owners, vehicles, violations (docs/domain.md).")],
) -> None:
    """Register what a JSON seed file describes; entries already there are left as they are."""
    from speedledger.central.errors import CentralError
    from speedledger.central.seeding import seed

    try:
        document = json.loads(file.read_text())
    except (OSError, ValueError) as error:
        typer.echo(f"error: cannot read {file}: {error}", err=True)
        raise typer.Exit(2) from None
    central = connect_central(central_settings(demo=None, require_secret=False))
    try:
        report = seed(central.bus, document, file.parent)
    except CentralError as error:  # the file's content: a user error like a file that cannot be read
        typer.echo(f"error: {file}: {error}", err=True)
        raise typer.Exit(2) from None
    finally:
        central.close()
    for line, count in sorted(report.items()):
        typer.echo(f"{line}: {count}")


@central_app.command("status")
def status() -> None:
    """Each projection's position, the log's head and any error."""
    central = connect_central(
        central_settings(demo=None, require_secret=False, existing_db=True), read_your_writes=False
    )
    try:
        for item in central.runner.status():
            state = f"error: {item.error}" if item.error else "ok"
            typer.echo(f"{item.name}: position {item.position} of {item.head} (lag {item.lag}) {state}")
    finally:
        central.close()


@central_app.command("config-key")
def config_key(
    create: Annotated[bool, typer.Option(help="Create the key when the file does not exist yet.")] = False,
) -> None:
    """Print central's config-signing public key (radars verify their config with it).

    The file is SPEEDLEDGER_CONFIG_KEY (default: central-config-key.pem beside the SQLite database).
    A file named by SPEEDLEDGER_CONFIG_KEY is created only here, with --create.
    """
    from speedledger.central.ingest.config_push import ConfigKey

    path = central_settings(demo=None, require_secret=False).ingest_settings.config_key_path
    key = exit_on_configuration_error(lambda: ConfigKey.load_or_create(path, create=create))
    info = key.public_info()
    typer.echo(f"config key: {path}")
    typer.echo(f"public_key: {info['public_key']}")
    typer.echo(f"key_id: {info['key_id']}")
