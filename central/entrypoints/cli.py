"""`speedledger central|keys|token` commands."""

import os
from typing import Annotated

import typer

from speedledger.central.auth.roles import Role

central_app = typer.Typer(help="Central: ingest, projections and the REST API.", no_args_is_help=True)
keys_app = typer.Typer(help="Radar signing keys.", no_args_is_help=True)
token_app = typer.Typer(help="Bearer tokens for the REST API.", no_args_is_help=True)


@token_app.command("mint")
def mint_token(
    role: Annotated[Role, typer.Option(help="admin, operator (radars), registry (owners, vehicles) or agency.")],
    subject: Annotated[str, typer.Option(help="Who the token is for; recorded as the actor of their commands.")],
    ttl: Annotated[str, typer.Option(help="Lifetime: seconds, or a number with s, m, h or d.")] = "8h",
) -> None:
    """Print a bearer token for the REST API, signed with SPEEDLEDGER_SECRET (HS256, with an expiry)."""
    from speedledger.central.auth import TokenAuthority, WeakSecret, parse_ttl

    secret = os.environ.get("SPEEDLEDGER_SECRET", "")
    if not secret:
        raise typer.BadParameter("set SPEEDLEDGER_SECRET to the secret central verifies tokens with")
    try:
        token = TokenAuthority(secret).mint(role, subject, parse_ttl(ttl))
    except (WeakSecret, ValueError) as error:
        raise typer.BadParameter(str(error)) from error
    typer.echo(token)
