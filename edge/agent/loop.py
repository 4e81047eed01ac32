"""`AgentLoop`: source chunks, transport events and the outbox, in turn, on one thread."""

import queue
import threading
import time

from speedledger.edge.core.radar import Radar
from speedledger.edge.mqtt_transport import MqttTransport, TransportEvent


class AgentLoop:
    """Single-threaded loop: source chunks, transport events and the outbox, in turn."""

    def __init__(self, agent: Radar, transport: MqttTransport, stop: threading.Event | None = None) -> None:
        self.agent = agent
        self.transport = transport
        #: Set (e.g. by a signal handler) to end the run at the next chunk or pump.
        self.stop = stop if stop is not None else threading.Event()

    def pump(self, wait_s: float = 0.0) -> None:
        """Handle every queued transport event (waiting up to `wait_s` for the first), then publish what is due."""
        try:
            event: TransportEvent | None = self.transport.events.get(timeout=wait_s) if wait_s else None
        except queue.Empty:
            event = None
        while True:
            if event is None:
                try:
                    event = self.transport.events.get_nowait()
                except queue.Empty:
                    break
            self._handle(event)
            event = None
        self.agent.outbox.poll(monotonic_ms())

    def _handle(self, event: TransportEvent) -> None:
        if event.kind == "connected":
            self.agent.outbox.on_connect(monotonic_ms())
        elif event.kind == "disconnected":
            self.agent.outbox.on_disconnect()
        else:
            self.agent.on_message(event.topic, event.payload)

    def drain(self, timeout_s: float) -> bool:
        """Keep delivering until every journaled event is acked (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout_s
        while self.agent.journal.pending():
            if time.monotonic() >= deadline or self.stop.is_set():
                return False
            self.pump(wait_s=0.05)
        return True


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000
