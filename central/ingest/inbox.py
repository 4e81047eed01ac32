"""The ingest's inbox: a queue bounded in messages and bytes between the MQTT network thread and
the check stage; while it is full the network thread reads nothing (backpressure).

The network thread asks `wait_for_room` before each read from its socket (mqtt.py) and never waits
in `put`: while the inbox is full the broker keeps the rest (its in-flight window, then the
persistent session's queue, which deploy/mosquitto.conf never drops), so a flood costs central the
inbox's bound plus what one read brings, however large the flood and whatever the broker's window.
One read is one message while central has no publication awaiting the broker's answer, and at most
one more than central has awaiting (paho reads that many packets at a time), so the bound is
overshot by little. The thread keeps writing meanwhile: the PUBACKs and acks of what is inside,
sent by the commit stage, and its keepalive.
"""

from __future__ import annotations

import threading
from collections import deque

from speedledger.central.ingest.mqtt import Received


class Inbox:
    def __init__(self, max_messages: int, max_bytes: int) -> None:
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._items: deque[Received | None] = deque()
        self._bytes = 0
        self._changed = threading.Condition()
        #: High-water marks (what the bound held back), for tests and /metrics.
        self.peak_messages = 0
        self.peak_bytes = 0

    def _has_room(self) -> bool:
        return len(self._items) < self.max_messages and self._bytes < self.max_bytes

    def wait_for_room(self, timeout_s: float) -> bool:
        """Whether there is room for more, waiting at most `timeout_s` for it (the network thread)."""
        with self._changed:
            return self._changed.wait_for(self._has_room, timeout_s)

    def put(self, received: Received) -> None:
        """Enqueue at once, full or not: the network thread read it, so it is central's now."""
        with self._changed:
            self._items.append(received)
            self._bytes += len(received.payload)
            self.peak_messages = max(self.peak_messages, len(self._items))
            self.peak_bytes = max(self.peak_bytes, self._bytes)
            self._changed.notify_all()

    def close(self) -> None:
        """Enqueue the end marker (never waits: it carries no payload)."""
        with self._changed:
            self._items.append(None)
            self._changed.notify_all()

    def take(self, limit: int) -> list[Received | None]:
        """Wait for one item, then take whatever else is waiting, up to `limit`; None marks the end."""
        with self._changed:
            self._changed.wait_for(lambda: bool(self._items))
            taken = [self._items.popleft() for _ in range(min(limit, len(self._items)))]
            self._bytes -= sum(len(item.payload) for item in taken if item is not None)
            self._changed.notify_all()
        return taken

    def __len__(self) -> int:
        return len(self._items)
