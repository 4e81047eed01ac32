"""Base classes shared by the bounded contexts' commands and events. Pure: imports only the standard library."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

#: Milliseconds since the Unix epoch, UTC; injected so tests control time.
Clock = Callable[[], int]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Command:
    """An instruction to change state; `actor` (the token subject, or "system") lands in the event metadata."""

    actor: str = "system"


@dataclasses.dataclass(frozen=True)
class Event:
    """A fact that happened; stored under its stable `type_name` with its fields as JSON data.

    Every event class names itself: `class RadarRegistered(Event, type_name="RadarRegistered")`, so
    renaming the class never changes what is stored. A class that once was stored under other names
    lists them in `previous_type_names`, and overrides `upcast` when the data's shape changed.
    """

    type_name: ClassVar[str]
    previous_type_names: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, /, type_name: str, previous_type_names: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.type_name = type_name
        cls.previous_type_names = previous_type_names

    @property
    def type(self) -> str:
        return self.type_name

    def data(self) -> dict[str, Any]:
        """The fields as a dict (shallow: events hold plain JSON values)."""
        return {name: getattr(self, name) for name in _field_names(type(self))}

    @classmethod
    def stored_type_names(cls) -> tuple[str, ...]:
        """Every name this event is or was stored under."""
        return (cls.type_name, *cls.previous_type_names)

    @classmethod
    def upcast(cls, stored_type: str, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """Data stored under `stored_type` (this name or a previous one) in the current shape; as is by default."""
        return data


_FIELD_NAMES: dict[type[Event], tuple[str, ...]] = {}


def _field_names(cls: type[Event]) -> tuple[str, ...]:
    """`dataclasses.fields` costs more than reading the fields: once per class."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(field.name for field in dataclasses.fields(cls))
    return names


class EventTypes:
    """Decodes stored (type, data) pairs back into one context's event classes, upcasting old ones."""

    def __init__(self, classes: Iterable[type[Event]]) -> None:
        self._by_name: dict[str, type[Event]] = {}
        #: Each class's field names, for `decode` (dataclasses.fields is slow on a hot path).
        self._fields: dict[type[Event], frozenset[str]] = {}
        #: Each class's field defaults, for classes `decode` may fill without calling `__init__`.
        self._defaults: dict[type[Event], dict[str, Any]] = {}
        for cls in classes:
            fields = dataclasses.fields(cls)
            self._fields[cls] = frozenset(field.name for field in fields)
            if _plain_fields(cls, fields):
                self._defaults[cls] = {f.name: f.default for f in fields if f.default is not dataclasses.MISSING}
            for name in cls.stored_type_names():
                if name in self._by_name:
                    raise ValueError(f"{self._by_name[name].__name__} and {cls.__name__} are both stored as {name}")
                self._by_name[name] = cls

    @property
    def names(self) -> frozenset[str]:
        """Every stored type name these classes decode, previous names included."""
        return frozenset(self._by_name)

    def decode(self, name: str, data: Mapping[str, Any]) -> Event | None:
        """The event, or None when `name` belongs to another context.

        Keys the class has no field for are dropped; missing fields take their defaults. Where the
        generated `__init__` would only store the values (see `_plain_fields`), they are stored in the
        instance's `__dict__` directly: a frozen dataclass's `__init__` costs about 1.5 µs a field,
        the whole decode of a rebuild's violations and infractions over again.
        """
        cls = self._by_name.get(name)
        if cls is None:
            return None
        current = cls.upcast(name, data)
        fields = self._fields[cls]
        defaults = self._defaults.get(cls)
        if defaults is not None and fields.issuperset(current):
            values = {**defaults, **current} if defaults else dict(current)
            if len(values) == len(fields):
                event = object.__new__(cls)
                event.__dict__.update(values)
                return event
        return cls(**{key: value for key, value in current.items() if key in fields})

    def decode_once(self, name: str, data: Mapping[str, Any], key: int, decoded: dict[int, Event]) -> Event | None:
        """As `decode`, taking the event from `decoded[key]` when another `EventTypes` decoded it to the
        same class (events are immutable), and leaving it there otherwise."""
        event = decoded.get(key)
        if event is not None and type(event) is self._by_name.get(name):
            return event
        event = self.decode(name, data)
        if event is not None:
            decoded[key] = event
        return event


def _plain_fields(cls: type[Event], fields: tuple[dataclasses.Field[Any], ...]) -> bool:
    """True when `cls(**values)` would do nothing but store `values` and the defaults in the instance's
    `__dict__`: no `__post_init__`, no default factory, every field an `__init__` argument, no slots."""
    return (
        not hasattr(cls, "__post_init__")
        and not hasattr(cls, "__slots__")
        and all(field.init and field.default_factory is dataclasses.MISSING for field in fields)
    )
