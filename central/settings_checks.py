"""Checks of each setting central reads from the environment, so a mistake is one line naming the
variable before anything starts (no broker connection, no database created). Used by `Settings.from_env`."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from speedledger.central.errors import ConfigurationError
from speedledger.central.infractions.fines import load_fine_schedule
from speedledger.shared.broker import BrokerAddress

DATABASE_BACKENDS = ("sqlite", "postgresql")


def database_url(value: str, variable: str = "SPEEDLEDGER_DB") -> URL:
    """A SQLite or PostgreSQL URL; a SQLite file's directory must exist (a typo must not start afresh)."""
    try:
        url = make_url(value)
    except ArgumentError:
        raise ConfigurationError(
            f"{variable} must be a database URL such as sqlite:///{value} or postgresql://user@host/db, got {value!r}"
        ) from None
    if url.get_backend_name() not in DATABASE_BACKENDS:
        raise ConfigurationError(f"{variable}: unsupported database {url.get_backend_name()!r} (sqlite or postgresql)")
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        directory = Path(str(url.database)).parent
        if not directory.is_dir():
            raise ConfigurationError(f"{variable}: directory {directory} does not exist (for {value})")
    return url


def existing_database(value: str, variable: str = "SPEEDLEDGER_DB") -> None:
    """For commands that only read: a SQLite file must already exist (they never create one)."""
    url = database_url(value, variable)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(str(url.database))
        if not path.is_file():
            raise ConfigurationError(
                f"{variable}: no database at {path.resolve()} (this command never creates one: check {variable}, "
                "or start `speedledger central` once)"
            )


def http_address(value: str, variable: str = "SPEEDLEDGER_HTTP") -> tuple[str, int]:
    """HOST:PORT with a port from 0 (any free port) to 65535."""
    host, separator, port = value.rpartition(":")
    if not separator or not port.isdigit():
        raise ConfigurationError(f"{variable} must be HOST:PORT (e.g. 127.0.0.1:8000), got {value!r}")
    if int(port) > 65535:
        raise ConfigurationError(f"{variable}: port must be from 0 (any free port) to 65535, got {port}")
    return host or "127.0.0.1", int(port)


def broker_url(value: str, variable: str = "SPEEDLEDGER_MQTT") -> BrokerAddress:
    try:
        return BrokerAddress.from_url(value)
    except ValueError as error:
        raise ConfigurationError(f"{variable}: {error}") from None


def fine_schedule(path: Path, variable: str = "SPEEDLEDGER_FINE_SCHEDULE") -> None:
    try:
        load_fine_schedule(path)
    except (ConfigurationError, ValueError) as error:
        raise ConfigurationError(f"{variable}: {error}") from None
