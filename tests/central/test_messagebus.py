"""The message bus: one handler a command, retries on concurrent writes, projections after commit."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from speedledger.central.errors import Conflict
from speedledger.central.eventstore.port import WrongExpectedVersion
from speedledger.central.messagebus import MessageBus
from speedledger.central.messages import Command


@dataclass(frozen=True)
class Ping(Command):
    text: str


@dataclass(frozen=True)
class Unhandled(Command):
    pass


def test_routes_to_the_handler_and_catches_projections_up() -> None:
    calls: list[str] = []
    bus = MessageBus(
        {Ping: lambda command: calls.append(command.text) or "pong"}, after_handle=lambda: calls.append("up")
    )
    assert bus.handle(Ping("a")) == "pong"
    assert calls == ["a", "up"]
    with pytest.raises(TypeError, match="no handler for Unhandled"):
        bus.handle(Unhandled())


def test_retries_a_handler_that_lost_a_race_then_reports_a_conflict() -> None:
    attempts: list[int] = []

    def racing(command: Ping) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise WrongExpectedVersion("radar-R1", 1, 2)
        return "done"

    assert MessageBus({Ping: racing}).handle(Ping("x")) == "done"
    assert len(attempts) == 3

    def always_losing(command: Ping) -> str:
        raise WrongExpectedVersion("radar-R1", 1, 2)

    with pytest.raises(Conflict, match="radar-R1 is being changed concurrently"):
        MessageBus({Ping: always_losing}, conflict_retries=2).handle(Ping("x"))


def test_a_failing_projection_does_not_fail_a_committed_command(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise RuntimeError("projection down")

    assert MessageBus({Ping: lambda command: "committed"}, after_handle=broken).handle(Ping("x")) == "committed"
    assert "projections could not catch up after Ping" in caplog.text


def test_handler_errors_are_not_retried() -> None:
    attempts: list[int] = []

    def refusing(command: Ping) -> None:
        attempts.append(1)
        raise Conflict("no")

    with pytest.raises(Conflict, match="no"):
        MessageBus({Ping: refusing}).handle(Ping("x"))
    assert attempts == [1]
