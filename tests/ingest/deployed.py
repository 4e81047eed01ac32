"""mosquitto running the shipped deploy/mosquitto.conf, with only its port and paths moved (tests, bench)."""

from __future__ import annotations

import datetime
import getpass
import ipaddress
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def make_tls_files(directory: Path, host: str = "127.0.0.1") -> TlsFiles:
    """A throw-away CA and a broker certificate it signed for `host` (an IP address)."""
    ca_key, broker_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, public: ec.EllipticCurvePublicKey, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "speedledger test CA")]))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False
            )
        return builder.sign(ca_key, hashes.SHA256())

    files = TlsFiles(directory / "ca.crt", directory / "broker.crt", directory / "broker.key")
    pem = serialization.Encoding.PEM
    files.ca.write_bytes(certificate("speedledger test CA", ca_key.public_key(), True).public_bytes(pem))
    files.cert.write_bytes(certificate(host, broker_key.public_key(), False).public_bytes(pem))
    files.key.write_bytes(
        broker_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return files


@dataclass
class DeployedMosquitto:
    """`password_file` None: anonymous clients and no ACL (the bench); else the shipped auth and ACL.
    `tls` None: the TLS listener is left out; else it listens on `tls_port` with these files."""

    port: int
    workdir: Path
    password_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    tls: TlsFiles | None = None
    tls_port: int = 0

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
        tls = (
            [
                (r"^listener 8883$", f"listener {self.tls_port} 127.0.0.1"),
                (r"^cafile .*$", f"cafile {self.tls.ca}"),
                (r"^certfile .*$", f"certfile {self.tls.cert}"),
                (r"^keyfile .*$", f"keyfile {self.tls.key}"),
            ]
            if self.tls is not None
            else [(r"^listener 8883$\n(^(cafile|certfile|keyfile|tls_version|require_certificate) .*$\n)*", "")]
        )
        for pattern, replacement in [
            (r"^listener 1883 127.0.0.1$", f"listener {self.port} 127.0.0.1\nuser {getpass.getuser()}"),
            *tls,
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
