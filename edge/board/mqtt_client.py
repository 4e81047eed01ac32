"""The part of peterhinch's `mqtt_as.MQTTClient` the board uses, as a Protocol for the type checker.

`mqtt_as` ships no type information. The board imports this module only under `if TYPE_CHECKING:`,
so it is never copied to a board (speedledger/layout.py lists it as typing-only).
"""

import asyncio
from collections.abc import AsyncIterable
from typing import Protocol


class MqttAsClient(Protocol):
    #: Set by mqtt_as on each (re)connection and each lost link; the board clears them.
    up: asyncio.Event
    down: asyncio.Event
    #: Received messages: (topic, payload, retained).
    queue: AsyncIterable[tuple[bytes, bytes, bool]]

    def isconnected(self) -> bool: ...

    async def connect(self) -> None: ...

    async def publish(self, topic: str, msg: bytes, retain: bool = False, qos: int = 0) -> None: ...

    async def subscribe(self, topic: str, qos: int = 0) -> None: ...
