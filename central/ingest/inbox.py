"""The ingest's inbox: a queue bounded in messages and bytes between the MQTT network thread and
the check stage, which blocks the network thread while full (backpressure).

While `put` waits, paho's network thread reads nothing more from its socket: the broker keeps the
rest (its in-flight window, then the persistent session's queue, which deploy/mosquitto.conf never
drops), so a flood costs central at most the inbox's bound, however large it is and whatever the
broker's window. The PUBACKs and acks of what is already inside are sent by the commit stage, which
does not wait on the inbox. One message is always admitted into an empty inbox, so a payload larger
than the byte bound still passes (the broker's `max_packet_size` bounds it).
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

    def _fits(self, size: int) -> bool:
        return not self._items or (len(self._items) < self.max_messages and self._bytes + size <= self.max_bytes)

    def put(self, received: Received) -> None:
        """Wait for room, then enqueue (called from the MQTT network thread)."""
        size = len(received.payload)
        with self._changed:
            self._changed.wait_for(lambda: self._fits(size))
            self._items.append(received)
            self._bytes += size
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
