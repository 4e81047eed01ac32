"""The process manager that turns each recorded violation into an infraction or a dismissal.

It runs as a checkpointed projection: for each `ViolationRecorded` it takes the radar (limit and
status at detection time) and the vehicle (owner at detection time) as of the event store's last
commit (kept between batches, checked against their streams' versions), decides,
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
from speedledger.central.infractions.domain import (
    CAUSATION,
    decide_violation,
    decision_event_id,
    decision_metadata,
)
from speedledger.central.infractions.events import (
    InfractionIssued,
    ViolationDismissed,
    ViolationRecorded,
    dismissal_stream,
    infraction_stream,
)
from speedledger.central.infractions.fines import FineSchedule
from speedledger.central.messages import Clock, EventTypes
from speedledger.central.projections.port import Decoded
from speedledger.central.radars.lookup import RadarState, radar_cache
from speedledger.central.registration.lookup import VehicleState, vehicle_cache

log = logging.getLogger(__name__)


class InfractionProcessManager:
    name = "infraction-process-manager"
    event_types = EventTypes([ViolationRecorded])

    def __init__(self, store: EventStore, schedule: FineSchedule, clock: Clock) -> None:
        self._store = store
        self._schedule = schedule
        self._clock = clock
        self._radars = radar_cache(store)
        self._vehicles = vehicle_cache(store)

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
        (PostgreSQL's global one) is taken only for the appends, not while deciding. The batch's radars
        and vehicles are checked against their streams' versions in one query each, and read again
        only when they changed (`AggregateCache`): as of now, as loading each one would."""
        violations = [
            (event, recorded)
            for event in events
            if isinstance(recorded := self.event_types.decode(event.type, event.data), ViolationRecorded)
        ]
        if not violations:
            return
        radars = self._radars.lookup({str(recorded.message["radar_id"]) for _, recorded in violations})
        vehicles = self._vehicles.lookup({str(recorded.message["plate"]) for _, recorded in violations} - {""})
        decisions = [self._decide(event, recorded, radars, vehicles) for event, recorded in violations]
        # One append for the batch; a decision already taken (a replay, or a rebuild of this process
        # manager) comes back as a conflict or duplicate, and the first decision stands.
        tx.append_batch([AppendRequest(stream_id, [decision], NO_STREAM) for stream_id, decision in decisions])

    def _decide(
        self,
        event: RecordedEvent,
        recorded: ViolationRecorded,
        radars: Callable[[str], RadarState | None],
        vehicles: Callable[[str], VehicleState | None],
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
        metadata = decision_metadata("process-manager", event.event_id)
        return stream_id, to_new_event(decision, metadata, event_id=decision_event_id(event.event_id))


class DecisionReplay:
    """The process manager's state rebuilt from the log: the violations no decision answers yet.

    A decision comes later in the log than its violation and names it (`decision_metadata`: its
    causation id is the violation's event id, its store event id derived from it), so one pass keeps each
    violation until its decision shows up; `end_replay` decides those left, as the live process manager
    would have. A decision without a causation id (none is written so) is matched by its event id, at
    the end, against the few violations left: no `decision_event_id` (a uuid5) per violation.
    """

    event_types = EventTypes([ViolationRecorded, InfractionIssued, ViolationDismissed])
    _VIOLATION_TYPES = frozenset(ViolationRecorded.stored_type_names())

    def __init__(self, manager: InfractionProcessManager) -> None:
        self.name = manager.name
        self._manager = manager
        #: Violations no decision answered yet, by their event id.
        self._undecided: dict[str, RecordedEvent] = {}
        #: Event ids of decisions that named no violation.
        self._unnamed: set[str] = set()

    @property
    def tables(self) -> Sequence[Table]:
        return ()

    def bind(self, tables: Mapping[str, Table]) -> DecisionReplay:
        return DecisionReplay(self._manager)

    def apply(self, tx: Transaction, event: RecordedEvent) -> None:
        self.apply_batch(tx, [event])

    def apply_batch(self, tx: Transaction, events: Sequence[RecordedEvent]) -> None:
        self.prepare(tx.connection.dialect.name, events)

    def prepare(
        self, dialect: str, events: Sequence[RecordedEvent], decoded: Decoded | None = None
    ) -> Callable[[Transaction], None]:
        """Follows the log without the database: nothing is written before `end_replay`."""
        for event in events:
            if event.type in self._VIOLATION_TYPES:
                self._undecided[event.event_id] = event
            elif (cause := event.metadata.get(CAUSATION)) is None or self._undecided.pop(cause, None) is None:
                self._unnamed.add(event.event_id)
        return _nothing

    def end_replay(self, tx: Transaction) -> None:
        """Decide the violations the log holds no decision for, in log order."""
        undecided = [
            event for event in self._undecided.values() if decision_event_id(event.event_id) not in self._unnamed
        ]
        self._undecided, self._unnamed = {}, set()
        if undecided:
            log.info("rebuild: %d violations without a decision in the log are decided now", len(undecided))
            self._manager.apply_batch(tx, undecided)


def _nothing(tx: Transaction) -> None:
    """No writes."""
