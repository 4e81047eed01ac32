"""A real uvicorn server in a thread (for what TestClient cannot do: endless SSE streams, disconnects)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from speedledger.central.entrypoints.api.server import ApiServer, listen


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serve `app` as `speedledger central` does, on a free loopback port; yields the base URL."""
    with running(app) as (url, _server):
        yield url


@contextmanager
def running(app: FastAPI) -> Iterator[tuple[str, ApiServer]]:
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = ApiServer(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
