"""Broker URLs and paho-mqtt client set-up shared by the radar agent and central (CPython only)."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> BrokerAddress:
        """`mqtt://[user:pass@]host[:1883]` or `mqtts://...` (TLS, default port 8883)."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"unsupported MQTT URL {url!r}: use mqtt://host:port or mqtts://host:port")
        tls = parts.scheme in ("mqtts", "ssl")
        try:
            port = parts.port
        except ValueError:
            port = 0
        if port is not None and not 1 <= port <= 65535:
            raise ValueError(f"MQTT URL {url!r}: the port must be from 1 to 65535")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def configure(self, client: mqtt.Client) -> None:
        """Credentials and TLS (with certificate verification) for `client`."""
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            client.tls_set(cert_reqs=ssl.CERT_REQUIRED)


def set_nodelay(client: mqtt.Client) -> None:
    """Send small packets (acks, PUBACKs) at once: paho leaves Nagle on, which holds a packet for up to
    the peer's delayed-ACK time (40 ms on Linux) whenever an earlier one is unacknowledged.

    Call it from `on_connect`: each reconnection opens a new socket."""
    sock = client.socket()
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
