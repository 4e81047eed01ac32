"""Base classes shared by the bounded contexts' commands and events. Pure: imports only the standard library."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

#: Milliseconds since the Unix epoch, UTC; injected so tests control time.
Clock = Callable[[], int]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Command:
    """An instruction to change state; `actor` (the token subject, or "system") lands in the event metadata."""

    actor: str = "system"


@dataclasses.dataclass(frozen=True)
class Event:
    """A fact that happened; stored under its class name with its fields as JSON data."""

    @property
    def type(self) -> str:
        return type(self).__name__

    def data(self) -> dict[str, Any]:
        """The fields as a dict (shallow: events hold plain JSON values)."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


class EventTypes:
    """Decodes stored (type, data) pairs back into one context's event classes."""

    def __init__(self, classes: Iterable[type[Event]]) -> None:
        self._by_name: dict[str, type[Event]] = {cls.__name__: cls for cls in classes}

    def decode(self, name: str, data: Mapping[str, Any]) -> Event | None:
        """The event, or None when `name` belongs to another context."""
        cls = self._by_name.get(name)
        if cls is None:
            return None
        fields = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in fields})
