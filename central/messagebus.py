"""The one message bus: each command type goes to exactly one handler (a plain function).

Handlers get their dependencies (event store, key vault, clock, ...) bound by `bootstrap`, write
events to the store and return a small result (see each command's docstring). After a successful
command the bus calls `after_handle` (bootstrap passes the projection runner's `catch_up_to_now`
when read-your-writes is on: a wait bounded by the head at the command's end), so projections see
the new events: events reach read models and the infraction process manager only after they are
committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from speedledger.central.errors import Conflict
from speedledger.central.eventstore.port import WrongExpectedVersion
from speedledger.central.messages import Command

log = logging.getLogger(__name__)

Handler = Callable[[Any], Any]


class MessageBus:
    def __init__(
        self,
        handlers: Mapping[type[Command], Handler],
        *,
        after_handle: Callable[[], object] | None = None,
        conflict_retries: int = 3,
    ) -> None:
        self._handlers = dict(handlers)
        self._after_handle = after_handle
        self._conflict_retries = conflict_retries

    def handle(self, command: Command) -> Any:
        """Run the command's handler; retry it on a concurrent write, then raise Conflict.

        Raises NotFound, Conflict or Invalid (speedledger.central.errors) for commands the domain refuses.
        """
        handler = self._handlers.get(type(command))
        if handler is None:
            raise TypeError(f"no handler for {type(command).__name__}")
        attempt = 0
        while True:
            try:
                result = handler(command)
                break
            except WrongExpectedVersion as error:
                attempt += 1
                if attempt > self._conflict_retries:
                    raise Conflict(f"{error.stream_id} is being changed concurrently, try again") from error
                log.debug("retrying %s after %s", type(command).__name__, error)
        if self._after_handle is not None:
            try:
                self._after_handle()
            except Exception:
                # The command is committed: report its result; the runner retries the projection.
                log.exception("projections could not catch up after %s", type(command).__name__)
        return result
