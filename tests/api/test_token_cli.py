"""`speedledger token mint`: prints a token central accepts, refuses bad input with a clear message."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from speedledger.central.auth import Role, TokenAuthority, parse_ttl
from speedledger.cli import app

SECRET = "cli-secret-" + "x" * 32


def mint(*args: str, secret: str | None = SECRET) -> tuple[int, str]:
    env = {"SPEEDLEDGER_SECRET": secret} if secret is not None else {"SPEEDLEDGER_SECRET": ""}
    result = CliRunner().invoke(app, ["token", "mint", *args], env=env)
    return result.exit_code, result.output


def test_minted_token_verifies_with_the_same_secret() -> None:
    code, output = mint("--role", "registry", "--subject", "prefecture-75", "--ttl", "30m")
    assert code == 0, output
    principal = TokenAuthority(SECRET).verify(output.strip())
    assert principal.role is Role.REGISTRY
    assert principal.subject == "prefecture-75"
    assert abs(principal.expires_at - (time.time() + 1800)) < 5


def test_default_lifetime_is_eight_hours() -> None:
    code, output = mint("--role", "agency", "--subject", "a")
    assert code == 0, output
    assert abs(TokenAuthority(SECRET).verify(output.strip()).expires_at - (time.time() + 8 * 3600)) < 5


@pytest.mark.parametrize(
    ("args", "secret", "message"),
    [
        (["--role", "root", "--subject", "a"], SECRET, "root"),
        (["--role", "admin", "--subject", "a", "--ttl", "soon"], SECRET, "invalid duration"),
        (["--role", "admin", "--subject", "a", "--ttl", "400d"], SECRET, "between 1 s and 366 days"),
        (["--role", "admin", "--subject", "a"], None, "SPEEDLEDGER_SECRET"),
        (["--role", "admin", "--subject", "a"], "short", "at least 32 bytes"),
        (["--role", "admin", "--subject", ""], SECRET, "subject"),
    ],
)
def test_bad_input_exits_2_with_the_reason(args: list[str], secret: str | None, message: str) -> None:
    code, output = mint(*args, secret=secret)
    assert code == 2
    assert message in " ".join(output.split())


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("8h", 28800), ("7D", 604800)])
def test_parse_ttl(text: str, seconds: int) -> None:
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5m", "1.5h", "h", "3w"])
def test_parse_ttl_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_ttl(text)
