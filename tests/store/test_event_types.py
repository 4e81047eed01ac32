"""Stored event names are stable and old events are upcast on load, on the real stores (fixture `event_store`)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from speedledger.central.aggregates import Aggregate
from speedledger.central.eventstore import NO_STREAM, SqlEventStore
from speedledger.central.infractions.events import INFRACTION_EVENTS
from speedledger.central.messages import Command, Event, EventTypes
from speedledger.central.radars.events import RADAR_EVENTS
from speedledger.central.registration.events import REGISTRATION_EVENTS
from speedledger.central.sections.events import PASSAGE_EVENTS, SECTION_EVENTS

#: What every existing database holds: these names must keep decoding for ever.
STORED_NAMES = {
    "radars": {
        "RadarRegistered",
        "RadarDetailsChanged",
        "SpeedLimitChanged",
        "RadarStatusChanged",
        "RadarKeyAdded",
        "RadarKeyRevoked",
        "MetrologyRecorded",
    },
    "sections": {"SectionCreated", "SectionLimitChanged"},
    "passages": {"PassageRecorded"},
    "registration": {"OwnerRegistered", "OwnerErased", "VehicleRegistered", "OwnershipTransferred"},
    "infractions": {
        "ViolationRecorded",
        "InfractionIssued",
        "ViolationDismissed",
        "InfractionPaid",
        "InfractionContested",
        "InfractionCancelled",
        "InfractionUpheld",
        "InfractionIdentified",
    },
}
CONTEXTS = {
    "radars": RADAR_EVENTS,
    "sections": SECTION_EVENTS,
    "passages": PASSAGE_EVENTS,
    "registration": REGISTRATION_EVENTS,
    "infractions": INFRACTION_EVENTS,
}


@pytest.mark.parametrize("context", CONTEXTS)
def test_every_stored_name_still_decodes(context: str) -> None:
    assert STORED_NAMES[context] <= CONTEXTS[context].names


def test_no_two_contexts_share_a_stored_name() -> None:
    for one, other in itertools.combinations(CONTEXTS.values(), 2):
        assert not one.names & other.names


# Release 1 stored `SpeedMeasured(kmh)`.
@dataclass(frozen=True)
class SpeedMeasured(Event, type_name="SpeedMeasured"):
    kmh: int


# Release 2 renamed the class only: the stored name stays.
@dataclass(frozen=True)
class MeasuredSpeed(Event, type_name="SpeedMeasured"):
    kmh: int


# Release 3 renamed the stored type and kept 1/100 km/h: old events are upcast on load.
@dataclass(frozen=True)
class SpeedRecorded(Event, type_name="SpeedRecorded", previous_type_names=("SpeedMeasured",)):
    speed_ckmh: int

    @classmethod
    def upcast(cls, stored_type: str, data: Mapping[str, Any]) -> Mapping[str, Any]:
        return {"speed_ckmh": data["kmh"] * 100} if stored_type == "SpeedMeasured" else data


def history(types: EventTypes) -> Aggregate[tuple[Event, ...]]:
    return Aggregate(lambda key: f"speed-{key}", types, lambda state, event: (*(state or ()), event))


def test_a_renamed_class_loads_the_events_stored_under_its_old_name(event_store: SqlEventStore) -> None:
    release_1 = history(EventTypes([SpeedMeasured]))
    release_1.append(event_store, "R1", [SpeedMeasured(kmh=104)], NO_STREAM, Command())

    assert [event.type for event in event_store.read_stream("speed-R1")] == ["SpeedMeasured"]
    assert history(EventTypes([MeasuredSpeed])).load(event_store, "R1") == ((MeasuredSpeed(kmh=104),), 1)


def test_an_upcaster_brings_old_events_to_the_current_shape(event_store: SqlEventStore) -> None:
    history(EventTypes([SpeedMeasured])).append(event_store, "R1", [SpeedMeasured(kmh=104)], NO_STREAM)
    release_3 = history(EventTypes([SpeedRecorded]))
    release_3.append(event_store, "R1", [SpeedRecorded(speed_ckmh=9650)], expected_version=1)

    assert [event.type for event in event_store.read_stream("speed-R1")] == ["SpeedMeasured", "SpeedRecorded"]
    assert release_3.load(event_store, "R1") == ((SpeedRecorded(10400), SpeedRecorded(9650)), 2)


def test_two_classes_cannot_claim_one_stored_name() -> None:
    with pytest.raises(ValueError, match="SpeedMeasured and SpeedRecorded are both stored as SpeedMeasured"):
        EventTypes([SpeedMeasured, SpeedRecorded])


def test_an_event_class_must_name_its_stored_type() -> None:
    with pytest.raises(TypeError, match="type_name"):

        class Unnamed(Event):  # type: ignore[call-arg]
            pass


@dataclass(frozen=True)
class WithDefaults(Event, type_name="WithDefaults"):
    speed_ckmh: int
    lane: str = "right"
    photo: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Checked(Event, type_name="Checked"):
    speed_ckmh: int

    def __post_init__(self) -> None:
        if self.speed_ckmh < 0:
            raise ValueError("negative speed")


def test_decode_gives_what_the_constructor_gives() -> None:
    """`decode` fills plain dataclasses without their `__init__`: the same events, extra keys dropped,
    defaults filled, a missing field still refused, a `__post_init__` still run."""
    types = EventTypes([WithDefaults, Checked])
    for data in ({"speed_ckmh": 9650}, {"speed_ckmh": 1, "lane": "left", "photo": {"a": 1}, "dropped": True}):
        decoded = types.decode("WithDefaults", data)
        expected = WithDefaults(**{key: value for key, value in data.items() if key != "dropped"})
        assert decoded == expected and type(decoded) is WithDefaults
        assert decoded.data() == expected.data()
    with pytest.raises(TypeError, match="speed_ckmh"):
        types.decode("WithDefaults", {"lane": "left"})
    with pytest.raises(ValueError, match="negative"):
        types.decode("Checked", {"speed_ckmh": -1})
    for context in CONTEXTS.values():  # every real event class decodes its own data back
        for name in context.names:
            cls = type(context.decode(name, _sample(context, name)))
            event = context.decode(name, _sample(context, name))
            assert event == cls(**_sample(context, name)) and event.data() == _sample(context, name)


def _sample(types: EventTypes, name: str) -> dict[str, Any]:
    """A value for every field of the class stored as `name` (its number in the field order)."""
    cls = types._by_name[name]
    return {field.name: number for number, field in enumerate(dataclasses.fields(cls))}
