"""Delivery logic between the journal and an MQTT transport: what to (re)send, when, and acks.

MicroPython-safe and transport-free: a transport is any object with
`publish(topic: str, payload: bytes, qos: int, retain: bool) -> bool` that returns False when it is
not connected (the CPython adapter wraps paho-mqtt, the board wraps an mqtt_as-style client).

Rules (CONTRACT section 2: at-least-once, dedup by event_id at central):
- every pending journal event is published on each new connection, oldest seq first, evidence JPEG
  before the violation (or passage, on its own topic) so central has the picture when it records it;
- at most `window` events wait for an ack at a time, so a radar back from days offline does not
  flood the broker;
- an event still unacked `resend_ms` after publication is published again on the same connection
  (central may have been down while the broker was up), with exponential backoff per event up to
  `max_resend_ms`;
- an ack (any result: accepted, duplicate, rejected) for a pending event_id is journaled, which
  ends that event's delivery. Acks for unknown ids (already acked, another radar's) are ignored.
"""

import json

from speedledger.shared import canonical, topics

from .passage import is_passage

RESULTS = ("accepted", "duplicate", "rejected")


class Backoff:
    """Exponential backoff with jitter for reconnects: `next_ms()` after each failure, `reset()` on success."""

    def __init__(self, initial_ms: int = 500, max_ms: int = 60_000, random01: object = None) -> None:
        self.initial_ms = initial_ms
        self.max_ms = max_ms
        self._random01 = random01
        self._failures = 0

    def next_ms(self) -> int:
        ceiling = min(self.max_ms, self.initial_ms << min(self._failures, 20))
        self._failures += 1
        jitter = self._random01() if self._random01 is not None else 1.0  # type: ignore[operator]
        # Half fixed, half random: spreads a fleet reconnecting after a broker restart.
        return ceiling // 2 + int(ceiling // 2 * jitter)

    def reset(self) -> None:
        self._failures = 0


class Ack:
    def __init__(self, event_id: str, seq: int, result: str, reason: str) -> None:
        self.event_id = event_id
        self.seq = seq
        self.result = result
        self.reason = reason


def parse_ack(payload: bytes) -> Ack:
    """Decode an ack; raises ValueError when it is not one."""
    message = json.loads(payload)
    if not isinstance(message, dict):
        raise ValueError("ack must be a JSON object")
    event_id = message.get("event_id")
    seq = message.get("seq")
    result = message.get("result")
    reason = message.get("reason")
    if not isinstance(event_id, str) or result not in RESULTS:
        raise ValueError("ack needs event_id and a result in " + ", ".join(RESULTS))
    return Ack(event_id, seq if isinstance(seq, int) else 0, result, reason if isinstance(reason, str) else "")


class Outbox:
    """Publishes journaled events until acked. Call `poll(now_ms)` often; times are monotonic ms."""

    def __init__(
        self,
        journal: object,
        radar_id: str,
        transport: object,
        window: int = 16,
        resend_ms: int = 30_000,
        max_resend_ms: int = 600_000,
    ) -> None:
        self.journal = journal
        self.radar_id = radar_id
        self.transport = transport
        self.window = window
        self.resend_ms = resend_ms
        self.max_resend_ms = max_resend_ms
        self.connected = False
        self.published = 0
        self.acked: dict[str, int] = {}
        for result in RESULTS:
            self.acked[result] = 0
        # event_id -> (due at ms, attempts on this connection)
        self._schedule: dict[str, tuple] = {}

    def on_connect(self, now_ms: int) -> None:
        """A (re)connection: everything pending is due again, starting now."""
        self.connected = True
        self._schedule = {}

    def on_disconnect(self) -> None:
        self.connected = False

    def in_flight(self) -> int:
        return len(self._schedule)

    def poll(self, now_ms: int) -> int:
        """Publish what is due; returns how many events were published."""
        if not self.connected:
            return 0
        sent = 0
        for event in self.journal.pending():  # type: ignore[attr-defined]
            due = self._schedule.get(event.event_id)
            if due is None:
                if len(self._schedule) >= self.window:
                    continue
                attempts = 0
            elif now_ms < due[0]:
                continue
            else:
                attempts = due[1]
            if not self._publish(event):
                self.connected = False
                break
            delay = min(self.max_resend_ms, self.resend_ms << min(attempts, 20))
            self._schedule[event.event_id] = (now_ms + delay, attempts + 1)
            sent += 1
        self.published += sent
        return sent

    def _publish(self, event: object) -> bool:
        journal = self.journal
        transport = self.transport
        if event.evidence_length:  # type: ignore[attr-defined]
            evidence = journal.evidence(event)  # type: ignore[attr-defined]
            topic = topics.evidence(self.radar_id, event.event_id)  # type: ignore[attr-defined]
            if not transport.publish(topic, evidence, 1, False):  # type: ignore[attr-defined]
                return False
        payload = journal.payload(event)  # type: ignore[attr-defined]
        topic = topics.passages(self.radar_id) if is_passage(payload) else topics.violations(self.radar_id)
        ok: bool = transport.publish(topic, payload, 1, False)  # type: ignore[attr-defined]
        return ok

    def on_ack(self, payload: bytes) -> Ack | None:
        """Journal an ack for a pending event; returns it, or None when it ended nothing."""
        try:
            ack = parse_ack(payload)
        except ValueError:
            return None
        if not self.journal.ack(ack.event_id, ack.result):  # type: ignore[attr-defined]
            return None
        self._schedule.pop(ack.event_id, None)
        self.acked[ack.result] += 1
        return ack


def status_payload(state: str, firmware: str, at_ms: int) -> bytes:
    """The retained `status` message: `{"at_ms":..,"firmware":..,"state":"online"|"offline"}`."""
    return canonical.dumps({"at_ms": at_ms, "firmware": firmware, "state": state})
