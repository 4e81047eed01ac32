"""What the portable core asks of its adapters, as Protocols for the type checkers.

MicroPython has no `typing`: portable modules import this one only under `if TYPE_CHECKING:`
(a module constant set to False, which mypy reads as true), so it is never copied to a board.
"""

from typing import Protocol


class Signer(Protocol):
    """A device key: its raw Ed25519 public key, its `key_id` and `sign(bytes)`."""

    @property
    def public_key(self) -> bytes: ...

    @property
    def key_id(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...


class Log(Protocol):
    """The part of `logging.Logger` the core uses (%-style arguments); a board passes `PrintLog`."""

    def debug(self, message: str, *args: object) -> None: ...

    def info(self, message: str, *args: object) -> None: ...

    def warning(self, message: str, *args: object) -> None: ...

    def error(self, message: str, *args: object) -> None: ...


class TimeSync(Protocol):
    """The device's time sync (NTP on Linux): how far its clock may be off, for passages (CONTRACT §6)."""

    def uncertainty_ms(self) -> int | None:
        """The bound on the clock's error now, in ms; None while the clock has no valid time."""
        ...
