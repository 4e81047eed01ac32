"""Serving the API with uvicorn: `serve(central, host, port)` is what `speedledger central` should run.

uvicorn's graceful shutdown waits for every open response to finish, and an SSE event stream never
finishes by itself: with a dashboard open, Ctrl-C would hang. `ApiServer` ends the app's streams
first (each client's EventSource reconnects to the next server with its Last-Event-ID).
"""

from __future__ import annotations

import contextlib
import socket

import uvicorn
from fastapi import FastAPI

from speedledger.central.bootstrap import Central
from speedledger.central.entrypoints.api.app import create_app
from speedledger.central.entrypoints.api.live import AppendSignal

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


def serve(central: Central, host: str, port: int, *, log_level: str = "info") -> None:
    """Run the REST API for `central` until SIGINT/SIGTERM; returns after a clean shutdown."""
    config = uvicorn.Config(
        create_app(central),
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    # uvicorn re-raises the SIGINT it captured once it has shut down cleanly; uvicorn.run swallows it too.
    with contextlib.suppress(KeyboardInterrupt):
        ApiServer(config).run()
