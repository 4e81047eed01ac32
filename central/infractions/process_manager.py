"""The process manager that turns each recorded violation into an infraction or a dismissal.

It runs as a checkpointed projection: for each `ViolationRecorded` it loads the radar (limit and
status at detection time) and the vehicle (owner at detection time) from the event store, decides,
and appends the decision inside the runner's transaction (`tx.append`), so the decision and the
checkpoint commit together. It takes the runner's batch at once (`apply_batch`): all decisions
first, then all appends. The decision's stream is derived from the violation's event_id and
appended at NO_STREAM, and its store event id is derived from the violation's (`decision_event_id`),
which the store keeps unique across all streams: so replaying or rebuilding never decides twice, even
when a back-dated limit or status change would now give the other decision. Such a correction is an
explicit, audited lifecycle event (a cancellation with its reason), never a second decision.

Its only state is which violations are decided, and its decisions are in the log: a rebuild replays
it as `DecisionReplay` (what `bind` returns), which reads the violations and the decisions without
deciding, and at the end of the log decides only the violations no decision answers (those the live
process manager had not reached), appending nothing that is already there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Generic, TypeVar

from sqlalchemy import Table

from speedledger.central.aggregates import to_new_event
from speedledger.central.eventstore.port import (
    NO_STREAM,
    AppendRequest,
    EventStore,
    NewEvent,
    RecordedEvent,
    Transaction,
)
from speedledger.central.infractions.domain import decide_violation, decision_event_id
from speedledger.central.infractions.events import (
    InfractionIssued,
    ViolationDismissed,
    ViolationRecorded,
    dismissal_stream,
    infraction_stream,
)
from speedledger.central.infractions.fines import FineSchedule
from speedledger.central.messages import Clock, EventTypes
from speedledger.central.radars.lookup import RadarState, load_radar
from speedledger.central.registration.lookup import VehicleState, load_vehicle

log = logging.getLogger(__name__)
T = TypeVar("T")


class InfractionProcessManager:
    name = "infraction-process-manager"
    event_types = EventTypes([ViolationRecorded])

    def __init__(self, store: EventStore, schedule: FineSchedule, clock: Clock) -> None:
        self._store = store
        self._schedule = schedule
        self._clock = clock

    @property
    def tables(self) -> Sequence[Table]:
        return ()

    def bind(self, tables: Mapping[str, Table]) -> DecisionReplay:
        """What a rebuild replays (it has no tables of its own)."""
        return DecisionReplay(self)

    def apply(self, tx: Transaction, event: RecordedEvent) -> None:
        self.apply_batch(tx, [event])

    def apply_batch(self, tx: Transaction, events: Sequence[RecordedEvent]) -> None:
        """Decide every violation of the batch, then append the decisions: the store's append lock
        (PostgreSQL's global one) is taken only for the appends, not while deciding. Radars and
        vehicles are loaded once per batch (as of now, as one by one would)."""
        radars = _Memo(lambda radar_id: load_radar(self._store, radar_id))
        vehicles = _Memo(lambda plate: load_vehicle(self._store, plate))
        decisions = []
        for event in events:
            recorded = self.event_types.decode(event.type, event.data)
            if isinstance(recorded, ViolationRecorded):
                decisions.append(self._decide(event, recorded, radars, vehicles))
        # One append for the batch; a decision already taken (a replay, or a rebuild of this process
        # manager) comes back as a conflict or duplicate, and the first decision stands.
        tx.append_batch([AppendRequest(stream_id, [decision], NO_STREAM) for stream_id, decision in decisions])

    def _decide(
        self,
        event: RecordedEvent,
        recorded: ViolationRecorded,
        radars: _Memo[RadarState | None],
        vehicles: _Memo[VehicleState | None],
    ) -> tuple[str, NewEvent]:
        message = recorded.message
        radar = radars(str(message["radar_id"]))
        plate = str(message["plate"])
        vehicle = vehicles(plate) if plate else None
        decision = decide_violation(message, radar, vehicle, self._schedule, self._clock())
        central_limit = decision.speed_limit_kmh
        if central_limit is not None and central_limit != decision.device_speed_limit_kmh:
            log.warning(
                "radar %s applied %d km/h at %d but central holds %d km/h: check its configuration",
                message["radar_id"],
                decision.device_speed_limit_kmh,
                message["detected_at_ms"],
                central_limit,
            )
        if isinstance(decision, InfractionIssued):
            stream_id = infraction_stream(decision.infraction_id)
        else:
            stream_id = dismissal_stream(event.event_id)
        metadata = {"actor": "process-manager", "causation_id": event.event_id}
        return stream_id, to_new_event(decision, metadata, event_id=decision_event_id(event.event_id))


class DecisionReplay:
    """The process manager's state rebuilt from the log: the violations no decision answers yet.

    A decision's store event id is derived from its violation's (`decision_event_id`) and comes later in
    the log, so one pass keeps each violation until its decision shows up; `end_replay` decides those
    left, as the live process manager would have.
    """

    event_types = EventTypes([ViolationRecorded, InfractionIssued, ViolationDismissed])
    _VIOLATION_TYPES = frozenset(ViolationRecorded.stored_type_names())

    def __init__(self, manager: InfractionProcessManager) -> None:
        self.name = manager.name
        self._manager = manager
        #: Undecided violations by the event id their decision will have.
        self._undecided: dict[str, RecordedEvent] = {}

    @property
    def tables(self) -> Sequence[Table]:
        return ()

    def bind(self, tables: Mapping[str, Table]) -> DecisionReplay:
        return DecisionReplay(self._manager)

    def apply(self, tx: Transaction, event: RecordedEvent) -> None:
        self.apply_batch(tx, [event])

    def apply_batch(self, tx: Transaction, events: Sequence[RecordedEvent]) -> None:
        self.prepare(tx.connection.dialect.name, events)

    def prepare(self, dialect: str, events: Sequence[RecordedEvent]) -> Callable[[Transaction], None]:
        """Follows the log without the database: nothing is written before `end_replay`."""
        for event in events:
            if event.type in self._VIOLATION_TYPES:
                self._undecided[decision_event_id(event.event_id)] = event
            else:
                self._undecided.pop(event.event_id, None)
        return _nothing

    def end_replay(self, tx: Transaction) -> None:
        """Decide the violations the log holds no decision for, in log order."""
        undecided, self._undecided = list(self._undecided.values()), {}
        if undecided:
            log.info("rebuild: %d violations without a decision in the log are decided now", len(undecided))
            self._manager.apply_batch(tx, undecided)


def _nothing(tx: Transaction) -> None:
    """No writes."""


class _Memo(Generic[T]):
    """`load(key)` once per key."""

    def __init__(self, load: Callable[[str], T]) -> None:
        self._load = load
        self._loaded: dict[str, T] = {}

    def __call__(self, key: str) -> T:
        if key not in self._loaded:
            self._loaded[key] = self._load(key)
        return self._loaded[key]
