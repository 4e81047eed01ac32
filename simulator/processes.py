"""speedledger processes the demo and the simulator start, kill and restart, and the waits around them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for(check: str, predicate: Callable[[], object], timeout_s: float = 30.0) -> None:
    """Poll `predicate` until it is true; TimeoutError naming `check` when it stays false."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{check} did not come up within {timeout_s:.0f} s")


class SpeedledgerProcess:
    """`python -m speedledger ARGS` in the background, run in the folder of `log` and writing to it; restartable."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args = args
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    def start(self, stdin: int | None = None, stdout: int | None = None) -> subprocess.Popen[bytes]:
        self._log_file = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "speedledger", *self.args],
            env=self.env,
            cwd=self.log.parent,
            stdin=stdin,
            stdout=stdout if stdout is not None else self._log_file,
            stderr=self._log_file,
        )
        return self.process

    def kill(self) -> None:
        """SIGKILL, as a power cut or an OOM kill would: no chance to clean up."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._close()

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout_s`."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close()

    def _close(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
