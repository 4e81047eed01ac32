"""What other contexts and the ingest may ask of the radars context: a radar as of its last committed event.

Read from the event store, not a projection, so there is no lag: a radar registered or a key revoked
a moment ago is seen at once.
"""

from __future__ import annotations

from speedledger.central.aggregates import AggregateCache
from speedledger.central.eventstore.port import EventStore
from speedledger.central.radars.aggregate import RADAR
from speedledger.central.radars.domain import RadarKey, RadarState
from speedledger.central.radars.events import RadarRegistered, SpeedLimitChanged

__all__ = ["LIMIT_EVENT_TYPES", "RadarKey", "RadarState", "load_radar", "load_radar_and_limit_time", "radar_cache"]

#: Stored types of the events that set a radar's limit: its registration and a limit change.
LIMIT_EVENT_TYPES = frozenset((*RadarRegistered.stored_type_names(), *SpeedLimitChanged.stored_type_names()))


def load_radar(store: EventStore, radar_id: str) -> RadarState | None:
    """The radar, or None when unknown.

    Gives its keys (raw public key, key_id, revoked or not), current limit and status, and the limit
    and status at any past instant (`speed_limit_at`, `status_at`).
    """
    return RADAR.state(store, radar_id)


def radar_cache(store: EventStore) -> AggregateCache[RadarState]:
    """Radars kept between batches, each checked against its stream's version (`AggregateCache`): per
    batch, one query, and a stream read only for a radar that changed."""
    return AggregateCache(RADAR, store)


def load_radar_and_limit_time(store: EventStore, radar_id: str) -> tuple[RadarState, int] | None:
    """The radar and when central recorded (store time) the limit now in force, or None when unknown."""
    recorded_events = store.read_stream(RADAR.stream(radar_id))
    state = RADAR.fold(recorded_events)
    if state is None:
        return None
    limit_times = [recorded.recorded_at_ms for recorded in recorded_events if recorded.type in LIMIT_EVENT_TYPES]
    return state, limit_times[-1]
