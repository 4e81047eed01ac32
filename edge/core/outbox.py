"""Delivery logic between the journal and an MQTT transport: what to (re)send, when, and acks.

MicroPython-safe and transport-free: a transport is any object with
`publish(topic: str, payload: bytes, qos: int, retain: bool) -> bool` that returns False when it is
not connected (the CPython adapter wraps paho-mqtt, the board wraps an mqtt_as-style client).

Rules (CONTRACT section 2: at-least-once, dedup by event_id at central):
- every pending journal event is published on each new connection, oldest seq first, evidence JPEG
  before the violation (or passage, on its own topic) so central has the picture when it records it;
- at most `window` events wait for an ack at a time, so a radar back from days offline does not
  flood the broker;
- on a live connection QoS 1 already delivers to the broker, which keeps central's persistent
  session; an event is published again on the same connection only when central has answered
  nothing for a while (the broker may have dropped it, e.g. central had no session yet): when no ack
  has come for `resend_ms`, or twice the longest time central took to answer this radar on this
  connection if that is longer (from an event's first publication to its ack), since the event's
  publication or the last ack, whichever is later. Until central's first ack on a connection the
  wait is `first_resend_ms` (5 min): a radar knows nothing of central's answer time yet, and after
  an outage its events may queue at central behind a whole fleet's for minutes.
  Each re-send of an event doubles its wait, up to `max_resend_ms`; any ack restarts every wait.
  A slow central (a fleet's backlog) thus gets no storm of duplicates, only a dead one gets re-sends;
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
        first_resend_ms: int = 300_000,
    ) -> None:
        self.journal = journal
        self.radar_id = radar_id
        self.transport = transport
        self.window = window
        self.resend_ms = resend_ms
        self.max_resend_ms = max_resend_ms
        self.first_resend_ms = first_resend_ms
        self.connected = False
        self.published = 0
        self.acked: dict[str, int] = {}
        for result in RESULTS:
            self.acked[result] = 0
        # event_id -> (last published at ms, publications on this connection, first published at ms)
        self._schedule: dict[str, tuple] = {}
        #: When central last answered (an ack or the connection), and how long it took at most.
        self._answered_ms = 0
        self._answer_time_ms = 0
        #: Whether any ack came on this connection (before that, the first wait applies).
        self._heard = False
        #: What `on_ack` saw since the last `poll` (it has no clock): any ack; the oldest first publication acked.
        self._acks_seen = False
        self._acked_sent_ms = -1

    def on_connect(self, now_ms: int) -> None:
        """A (re)connection: everything pending is due again, starting now."""
        self.connected = True
        self._schedule = {}
        self._answered_ms = now_ms
        self._answer_time_ms = 0
        self._heard = False
        self._acks_seen = False
        self._acked_sent_ms = -1

    def on_disconnect(self) -> None:
        self.connected = False

    def in_flight(self) -> int:
        return len(self._schedule)

    def poll(self, now_ms: int) -> int:
        """Publish what is due; returns how many events were published."""
        if not self.connected:
            return 0
        self._note_answers(now_ms)
        base_ms = max(self.resend_ms, 2 * self._answer_time_ms) if self._heard else self.first_resend_ms
        sent = 0
        for event in self.journal.pending():  # type: ignore[attr-defined]
            scheduled = self._schedule.get(event.event_id)
            if scheduled is None:
                if len(self._schedule) >= self.window:
                    continue
                attempts = 0
            else:
                published_ms, attempts, first_ms = scheduled
                wait_ms = min(self.max_resend_ms, base_ms << min(attempts - 1, 20))
                if now_ms < max(published_ms, self._answered_ms) + wait_ms:
                    continue
            if not self._publish(event):
                self.connected = False
                break
            self._schedule[event.event_id] = (now_ms, attempts + 1, now_ms if scheduled is None else first_ms)
            sent += 1
        self.published += sent
        return sent

    def _note_answers(self, now_ms: int) -> None:
        """Date the acks `on_ack` saw: they restart every wait, and time how long central takes."""
        if self._acks_seen:
            self._answered_ms = now_ms
            self._heard = True
            self._acks_seen = False
        if self._acked_sent_ms >= 0:
            self._answer_time_ms = max(self._answer_time_ms, now_ms - self._acked_sent_ms)
            self._acked_sent_ms = -1

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
        self._acks_seen = True  # central is answering, even if about an event already acked
        if not self.journal.ack(ack.event_id, ack.result):  # type: ignore[attr-defined]
            return None
        scheduled = self._schedule.pop(ack.event_id, None)
        # Timed from the first publication: the ack may answer any copy, and taking the longest time
        # keeps the wait long once central was slow (timing only events sent once would learn
        # nothing while every event is re-sent, and keep re-sending).
        if scheduled is not None and (self._acked_sent_ms < 0 or scheduled[2] < self._acked_sent_ms):
            self._acked_sent_ms = scheduled[2]
        self.acked[ack.result] += 1
        return ack


def status_payload(state: str, firmware: str, at_ms: int) -> bytes:
    """The retained `status` message: `{"at_ms":..,"firmware":..,"state":"online"|"offline"}`."""
    return canonical.dumps({"at_ms": at_ms, "firmware": firmware, "state": state})
