"""`speedledger broker`: an embedded MQTT broker (amqtt) as the zero-setup default of the demo.

Limits, said plainly: MQTT 3.1.1 only (no shared subscriptions, no v5 session expiry), sessions and
queued messages live in memory, so a broker restart loses QoS 1 messages still in flight. The radars'
journals and central's application acks cover that (a radar re-sends until it holds an ack), but for
real use run mosquitto with `deploy/mosquitto.conf` (docs/mqtt.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Annotated, Any

import typer

log = logging.getLogger(__name__)


def broker_config(host: str, port: int) -> dict[str, Any]:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


async def serve(host: str, port: int, stop: asyncio.Event) -> None:
    from amqtt.broker import Broker

    broker = Broker(broker_config(host, port))
    await broker.start()
    typer.echo(f"speedledger broker: MQTT 3.1.1 on mqtt://{host}:{port} (embedded, demo use; see docs/mqtt.md)")
    try:
        await stop.wait()
    finally:
        await broker.shutdown()


def default_bind() -> str:
    """Host and port of SPEEDLEDGER_MQTT (central's setting: the broker central would connect to)."""
    from speedledger.central.entrypoints.cli import exit_on_configuration_error
    from speedledger.central.settings import broker_url_from_env
    from speedledger.central.settings_checks import broker_url

    address = exit_on_configuration_error(lambda: broker_url(broker_url_from_env(os.environ)))
    return f"{address.host}:{address.port}"


def broker(
    bind: Annotated[
        str | None, typer.Option(help="HOST:PORT to listen on (default: host and port of SPEEDLEDGER_MQTT).")
    ] = None,
) -> None:
    """Run an embedded MQTT broker (amqtt) for the zero-setup demo; use mosquitto for real deployments."""
    host, _, port_text = (bind or default_bind()).rpartition(":")
    try:
        port = int(port_text)
    except ValueError:
        raise typer.BadParameter(f"--bind must be HOST:PORT, got {bind!r}") from None
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve(host or "127.0.0.1", port, stop)

    asyncio.run(main())
