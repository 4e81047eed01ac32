"""Radar agent for an ESP32-class board: MicroPython + peterhinch's mqtt_as.

Install on the board (docs/edge.md, "Installing on a board"): the files `python -m speedledger.layout
board DIR` lays out (the portable core and this package, under `speedledger/`), `mqtt_as` (mip:
`github:peterhinch/micropython-mqtt`), then `/radar.pem` (from `speedledger keys generate`),
`/settings.json`, and a `main.py` that does `from speedledger.edge.board.main import run; run()`.

`/settings.json`: {"radar_id", "ssid", "wifi_pw", "broker", "port" (1883), "central_key" (base64, optional),
"speed_limit_kmh", "firmware", "ntp_host" ("pool.ntp.org"), "uart": {"id", "baudrate", "tx", "rx"}}.

The same `Radar` as the Linux agent (decision, journal, outbox, config); the differences are written in
docs/edge.md: no plate reading and no evidence image, speed frames from a radar module over UART,
pure-Python Ed25519 (slow but correct), and the wall clock and its error bound from SNTP (`ntp.py`).
"""

import asyncio
import json
import os
import random
import time

import machine
import mqtt_as  # type: ignore[import-not-found]

from speedledger.edge.core import ed25519
from speedledger.edge.core.config import ConfigState
from speedledger.edge.core.journal import Journal
from speedledger.edge.core.keyfile import seed_from_pem
from speedledger.edge.core.outbox import Backoff, Outbox, status_payload
from speedledger.edge.core.radar import PrintLog, Radar
from speedledger.edge.core.violation import SpeedPolicy
from speedledger.shared import keys, topics

from .frontend import UartFrontEnd
from .ntp import BoardTimeSync

TYPE_CHECKING = False
if TYPE_CHECKING:
    from speedledger.edge.core.tracker import VehiclePass

    from .mqtt_client import MqttAsClient

JOURNAL_DIR = "/journal"
# Some ports count time from 2000-01-01, the contract from 1970-01-01.
_EPOCH_OFFSET_MS = 946_684_800_000 if time.gmtime(0)[0] == 2000 else 0
_MAX_UNSTAMPED = 32
#: A measuring loop stuck this long resets the board; the journal makes the reset lossless.
WATCHDOG_MS = 30_000
#: SNTP exchanges: every 15 min once synced (90 ms of drift bound at `sntp.DRIFT_PPM`), every 10 s until then
#: or after a failure.
RESYNC_MS = 15 * 60 * 1000
RETRY_MS = 10_000


def wall_ms() -> int:
    return time.time_ns() // 1_000_000 + _EPOCH_OFFSET_MS


class BoardTransport:
    """The Outbox's transport: `publish` queues, one task awaits mqtt_as's QoS 1 publish in order."""

    def __init__(self) -> None:
        self.client: MqttAsClient | None = None
        self.queue: list = []
        self.ready = asyncio.Event()

    def publish(self, topic: str, data: bytes, qos: int, retain: bool) -> bool:
        client = self.client
        if client is None or not client.isconnected():
            return False
        self.queue.append((topic, data, retain, qos))
        self.ready.set()
        return True

    def drop_queued(self) -> None:
        """After a lost link the Outbox re-sends everything pending, so queued copies are redundant."""
        self.queue = []

    async def run(self) -> None:
        while True:
            await self.ready.wait()
            self.ready.clear()
            client = self.client
            while self.queue and client is not None:
                topic, data, retain, qos = self.queue.pop(0)
                await client.publish(topic, data, retain, qos)


class BoardAgent(Radar):
    """The portable `Radar` with the board's key, journal, transport, UART front end, clock and time sync."""

    def __init__(self, settings: dict) -> None:
        self.settings = settings
        self._elapsed_ms = 0
        self._last_ticks = time.ticks_ms()
        self.ntp = BoardTimeSync(settings.get("ntp_host", "pool.ntp.org"), self.elapsed_ms, _EPOCH_OFFSET_MS)
        radar_id = settings["radar_id"]
        with open("/radar.pem") as handle:
            signer = ed25519.Ed25519Signer(seed_from_pem(handle.read()))
        journal = Journal(JOURNAL_DIR, compact_after_bytes=64 * 1024)
        self.transport = BoardTransport()
        central_key = settings.get("central_key")
        config = ConfigState(
            radar_id,
            SpeedPolicy(settings.get("speed_limit_kmh", 90)),
            keys.b64decode(central_key) if central_key else None,
            ed25519.verify,
        )
        outbox = Outbox(journal, radar_id, self.transport, window=4)
        firmware = settings.get("firmware", "speedledger-board/0.1.0")
        super().__init__(radar_id, firmware, signer, journal, outbox, config, PrintLog(), os.urandom, self.ntp)
        self.load_saved_config()
        uart = settings.get("uart", {})
        self.frontend = UartFrontEnd(
            machine.UART(uart.get("id", 1), baudrate=uart.get("baudrate", 115200), tx=uart.get("tx"), rx=uart.get("rx"))
        )
        self.watchdog = machine.WDT(timeout=WATCHDOG_MS)
        # Passes measured and not yet decided: (elapsed ms at measurement, pass), stamped once SNTP answered.
        self.unstamped: list[tuple[int, VehiclePass]] = []

    def elapsed_ms(self) -> int:
        """Monotonic ms since boot that never wraps (ticks_ms wraps after about 12 days on ESP32)."""
        now = time.ticks_ms()
        self._elapsed_ms += time.ticks_diff(now, self._last_ticks)
        self._last_ticks = now
        return self._elapsed_ms

    async def measure(self) -> None:
        while True:
            now = self.elapsed_ms()
            for vehicle_pass in self.frontend.poll(now):
                self.unstamped.append((now, vehicle_pass))
            unix_ms = self.ntp.now_ms()
            if unix_ms is not None:
                self.stamp(unix_ms - now)
            elif len(self.unstamped) > _MAX_UNSTAMPED:
                self.log.warning("no NTP time yet; oldest unstamped pass dropped")
                self.unstamped.pop(0)
            self.outbox.poll(now)
            self.watchdog.feed()
            await asyncio.sleep_ms(5)

    def stamp(self, offset_ms: int) -> None:
        """Decide the passes waiting for a time; those measured before the first SNTP reading had no valid
        time then: violations if over the limit, never passages (CONTRACT §6)."""
        for measured_at, vehicle_pass in self.unstamped:
            valid_since = self.ntp.valid_since_ms
            self.time_sync = self.ntp if valid_since is not None and measured_at >= valid_since else None
            self.on_pass(vehicle_pass, offset_ms + measured_at)
        self.time_sync = self.ntp
        self.unstamped = []

    async def on_up(self, client: MqttAsClient) -> None:
        while True:
            await client.up.wait()
            client.up.clear()
            await client.subscribe(topics.acks(self.radar_id), 1)
            await client.subscribe(topics.config(self.radar_id), 1)
            online = status_payload("online", self.firmware, wall_ms())
            await client.publish(topics.status(self.radar_id), online, True, 1)
            self.outbox.on_connect(self.elapsed_ms())

    async def keep_time(self, client: MqttAsClient) -> None:
        """SNTP while the link is up: sets the RTC and the clock's error bound (passages need both)."""
        while True:
            synced = client.isconnected() and self.ntp.sync()
            if not synced and client.isconnected():
                self.log.warning("SNTP with %s failed; retrying", self.ntp.host)
            await asyncio.sleep_ms(RESYNC_MS if synced else RETRY_MS)

    async def on_down(self, client: MqttAsClient) -> None:
        while True:
            await client.down.wait()
            client.down.clear()
            self.outbox.on_disconnect()
            self.transport.drop_queued()

    async def on_messages(self, client: MqttAsClient) -> None:
        async for topic, body, _retained in client.queue:
            self.on_message(topic.decode(), bytes(body))

    async def main(self) -> None:
        settings = self.settings
        mqtt_as.config["server"] = settings["broker"]
        mqtt_as.config["port"] = settings.get("port", 1883)
        mqtt_as.config["ssid"] = settings["ssid"]
        mqtt_as.config["wifi_pw"] = settings["wifi_pw"]
        mqtt_as.config["client_id"] = "speedledger-radar-" + self.radar_id
        mqtt_as.config["clean"] = False
        mqtt_as.config["clean_init"] = False
        mqtt_as.config["queue_len"] = 8
        mqtt_as.config["will"] = (
            topics.status(self.radar_id),
            status_payload("offline", self.firmware, wall_ms()),
            True,
            1,
        )
        client: MqttAsClient = mqtt_as.MQTTClient(mqtt_as.config)
        self.transport.client = client
        coroutines = (
            self.on_up(client),
            self.on_down(client),
            self.on_messages(client),
            self.transport.run(),
            self.keep_time(client),
        )
        tasks = [asyncio.create_task(coroutine) for coroutine in coroutines]
        tasks.append(asyncio.create_task(self.measure()))
        backoff = Backoff(1000, 60_000, random.random)
        while True:
            try:
                await client.connect()
                break
            except OSError:
                # mqtt_as reconnects by itself once connected; the first connection is ours to retry.
                await asyncio.sleep_ms(backoff.next_ms())
        await asyncio.gather(*tasks)  # runs for ever; if a task dies the watchdog stops being fed and resets


def run() -> None:
    with open("/settings.json") as handle:
        settings = json.load(handle)
    asyncio.run(BoardAgent(settings).main())
