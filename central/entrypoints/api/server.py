"""Serving the API with uvicorn: `serve(central, listen(host, port))` is what `speedledger central` runs.

uvicorn's graceful shutdown waits for every open response to finish, and an SSE event stream never
finishes by itself: with a dashboard open, Ctrl-C would hang. `ApiServer` ends the app's streams
first (each client's EventSource reconnects to the next server with its Last-Event-ID).
"""

from __future__ import annotations

import contextlib
import signal
import socket
from types import FrameType

import uvicorn
from fastapi import FastAPI

from speedledger.central.bootstrap import Central
from speedledger.central.entrypoints.api.app import create_app
from speedledger.central.entrypoints.api.health import BrokerProbe
from speedledger.central.entrypoints.api.live import AppendSignal
from speedledger.central.errors import ConfigurationError

#: Seconds other slow responses get to finish on shutdown before uvicorn cancels them.
GRACEFUL_SHUTDOWN_S = 10


class ApiServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        if not isinstance(config.app, FastAPI):
            raise TypeError("ApiServer serves an app from create_app()")
        self._streams: AppendSignal = config.app.state.append_signal

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._streams.close()
        await super().shutdown(sockets=sockets)


def listen(host: str, port: int) -> socket.socket:
    """The API's listening socket, bound before anything else starts (a port in use is a setting error)."""
    try:
        sock = socket.create_server((host, port), reuse_port=False)
    except OSError as error:
        raise ConfigurationError(f"SPEEDLEDGER_HTTP: cannot listen on {host}:{port}: {error.strerror}") from None
    # What uvicorn sets on sockets it creates itself: small responses leave at once (no Nagle delay).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def serve(central: Central, sock: socket.socket, *, broker: BrokerProbe = None, log_level: str = "info") -> None:
    """Run the REST API for `central` on `sock` (from `listen`) until SIGINT/SIGTERM; returns after a
    clean shutdown. `broker`: the ingest's session state, for /health and /metrics."""
    app = create_app(central, broker=broker)
    config = uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    # uvicorn raises the SIGINT or SIGTERM it captured again once it has shut down cleanly, with the
    # handler it found. SIGTERM's default ended the process there (status -15), before the caller's
    # cleanup (the ingest's stop and offline status, the store's close): both now end as Ctrl-C does.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            ApiServer(config).run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt
