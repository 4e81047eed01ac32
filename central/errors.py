"""Errors the central message bus raises for bad commands; the REST API maps them to HTTP statuses.

`NotFound` -> 404, `Conflict` -> 409, `Invalid` -> 422. Their message is safe to show to the caller.
"""

from __future__ import annotations


class CentralError(Exception):
    """Base of every error a command or a query reports to its caller."""


class NotFound(CentralError):
    """The command names a radar, owner, vehicle or infraction that does not exist."""


class Conflict(CentralError):
    """The command is well formed but not allowed in the current state (duplicate id, wrong status, ...)."""


class Invalid(CentralError):
    """The command's input is malformed or out of range."""


class ConfigurationError(CentralError):
    """Central cannot start with the given settings (e.g. no SPEEDLEDGER_SECRET outside demo mode)."""
