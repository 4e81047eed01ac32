"""Retention windows of passages: what makes a compliant driver's passages unreadable (CONTRACT §6).

Passages are cut into windows of `retention_ms` by the time they were made (`passed_at_ms`, signed by
the radar). Each window has a random 256-bit key in the key vault (`registration/keyvault.py`: its own
database by default, secure_delete, WAL checkpoint), subject `passages-{start_ms}-{end_ms}`. The plate,
image and raw signed message of a passage are only ever stored sealed under its window's key
(`seal_bytes`, the passage's `event_id` as associated data); pairing compares plates through an HMAC
under the same key (`tag`). The window closes `retention_ms` after its end: its key is deleted
(`forgetting.py`), so every passage of the window is kept at least `retention_ms` and at most twice
that, and none can be read, nor its plate recognised, afterwards, in the database or in any backup.

A window is open until then, whatever the vault holds: a passage whose window is due is forgotten on
arrival (nothing of it is sealed), and a due window's key is never created again.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag

from speedledger.central.messages import Clock
from speedledger.central.registration.personal_data import KeyVault, open_bytes, open_raw, seal_bytes, seal_raw

#: SPEEDLEDGER_PASSAGE_RETENTION_HOURS by default.
DEFAULT_RETENTION_HOURS = 24.0
HOUR_MS = 3_600_000
_PREFIX = "passages-"


@dataclass(frozen=True, order=True)
class Window:
    """Passages made in [start_ms, end_ms)."""

    start_ms: int
    end_ms: int

    @property
    def subject(self) -> str:
        """Its key's subject id in the vault; what events and tables name it by."""
        return f"{_PREFIX}{self.start_ms}-{self.end_ms}"

    @classmethod
    def parse(cls, subject: str) -> Window:
        start, _, end = subject.removeprefix(_PREFIX).partition("-")
        return cls(int(start), int(end))


def retention_ms(hours: float) -> int:
    return max(1, round(hours * HOUR_MS))


class PassageWindows:
    """Seals, opens and tags passages under their window's key; lists and destroys the keys."""

    def __init__(self, vault: KeyVault, retention_ms: int, clock: Clock) -> None:
        self._vault = vault
        self.retention_ms = retention_ms
        self._clock = clock
        #: Keys of open windows already read: a window's key never changes, and is used only while
        #: the window is open (`_key`), whichever process destroys it.
        self._keys: dict[Window, bytes] = {}

    def window_of(self, passed_at_ms: int) -> Window:
        start = passed_at_ms // self.retention_ms * self.retention_ms
        return Window(start, start + self.retention_ms)

    def current(self) -> Window:
        """The window of now: an image that arrives before its message waits sealed under its key, so one
        that nothing claims is unreadable at most twice the retention after it arrived."""
        return self.window_of(self._clock())

    def closes_at_ms(self, window: Window) -> int:
        return window.end_ms + self.retention_ms

    def is_open(self, window: Window) -> bool:
        return self._clock() < self.closes_at_ms(window)

    def seal(self, window: Window, plaintext: bytes, event_id: str) -> str | None:
        """The envelope of one passage's `plaintext`; None when its window is closed (nothing kept)."""
        key = self._sealing_key(window)
        return seal_bytes(key, plaintext, event_id) if key is not None else None

    def seal_raw(self, window: Window, plaintext: bytes, event_id: str) -> bytes | None:
        """`seal` as bytes, for a binary column (`personal_data.seal_raw`)."""
        key = self._sealing_key(window)
        return seal_raw(key, plaintext, event_id) if key is not None else None

    def open(self, window: Window, envelope: str | bytes | None, event_id: str) -> bytes | None:
        """What `seal` (text) or `seal_raw` (bytes) sealed; None once the window is closed (due, or its key
        destroyed)."""
        key = self._key(window)
        if key is None or envelope is None:
            return None
        try:
            if isinstance(envelope, bytes):
                return open_raw(key, envelope, event_id)
            return open_bytes(key, envelope, event_id)
        except InvalidTag as error:
            raise ValueError(f"passage {event_id} does not open with the key of {window.subject}") from error

    def tag(self, window: Window, plate: str) -> str | None:
        """The plate as pairing compares it within `window` (HMAC-SHA256 under its key); None when closed
        or when no passage was sealed in it (nothing to compare with)."""
        key = self._key(window)
        if key is None:
            return None
        return hmac.new(key, b"plate:" + plate.encode(), hashlib.sha256).hexdigest()

    def windows(self) -> list[Window]:
        """Every window whose key still exists, oldest first."""
        return sorted(Window.parse(subject) for subject in self._vault.subjects(_PREFIX))

    def forget(self, window: Window) -> None:
        """Destroy the window's key (idempotent): its passages are unreadable for ever."""
        self._keys.pop(window, None)
        self._vault.delete_key(window.subject)

    def _sealing_key(self, window: Window) -> bytes | None:
        """The window's key, created on first use; None once it is due."""
        if not self.is_open(window):
            return None
        key = self._keys.get(window) or self._vault.get_or_create_key(window.subject)
        self._keys[window] = key
        return key

    def _key(self, window: Window) -> bytes | None:
        for cached in [cached for cached in self._keys if not self.is_open(cached)]:
            self._keys.pop(cached, None)  # no key of a closed window stays in memory either
        if not self.is_open(window):
            return None
        key = self._keys.get(window) or self._vault.get_key(window.subject)
        if key is not None:
            self._keys[window] = key
        return key
