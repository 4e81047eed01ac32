"""Wakes Server-Sent Events streams as soon as this process appends to the event store, and ends them
when the server shuts down (a server waits for open responses, and an event stream never ends by itself).

Appends made by other processes (ingest workers on PostgreSQL) raise no signal here, so streams
also poll at a short interval; the signal only removes the polling delay for local writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

import anyio

from speedledger.central.eventstore.port import EventStore


class AppendSignal:
    def __init__(self, store: EventStore) -> None:
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()
        self._unsubscribe = store.on_append(self._appended)
        #: Set by `close()`: streams finish instead of waiting for more events.
        self.closed = False

    def _appended(self, _position: int) -> None:
        self._wake_all()

    def _wake_all(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that stream's loop has closed
                loop.call_soon_threadsafe(event.set)

    async def wait(self, timeout: float) -> None:
        """Return after the next local append, `close()`, or `timeout` seconds."""
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.add(waiter)
        try:
            with anyio.move_on_after(timeout):
                await waiter[1].wait()
        finally:
            with self._lock:
                self._waiters.discard(waiter)

    def close(self) -> None:
        """End every stream (idempotent): called when the server starts shutting down."""
        if not self.closed:
            self.closed = True
            self._unsubscribe()
            self._wake_all()
