"""mosquitto running the shipped deploy/mosquitto.conf, with only its port and paths moved (tests, bench)."""

from __future__ import annotations

import getpass
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@dataclass
class DeployedMosquitto:
    """`password_file` None: anonymous clients and no ACL (the bench); else the shipped auth and ACL."""

    port: int
    workdir: Path
    password_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def config(self) -> str:
        config = (DEPLOY / "mosquitto.conf").read_text()
        auth = (
            [
                (r"^password_file .*$", f"password_file {self.password_file}"),
                (r"^acl_file .*$", f"acl_file {DEPLOY / 'mosquitto.acl'}"),
            ]
            if self.password_file is not None
            else [
                (r"^allow_anonymous false$", "allow_anonymous true"),
                (r"^password_file .*$", ""),
                (r"^acl_file .*$", ""),
            ]
        )
        for pattern, replacement in [
            (r"^listener 1883$", f"listener {self.port} 127.0.0.1\nuser {getpass.getuser()}"),
            (r"^persistence_location .*$", f"persistence_location {self.workdir}/"),
            *auth,
        ]:
            config, count = re.subn(pattern, replacement, config, flags=re.MULTILINE)
            if count != 1:
                raise ValueError(f"deploy/mosquitto.conf has no line matching {pattern}")
        return config

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        path = self.workdir / "mosquitto.conf"
        path.write_text(self.config())
        log = open(self.workdir / "mosquitto.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen([binary, "-c", str(path)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.process.kill()
                    raise RuntimeError((self.workdir / "mosquitto.log").read_text()) from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None
