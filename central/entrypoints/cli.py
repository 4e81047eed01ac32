"""`speedledger central|keys|token` commands."""

import typer

central_app = typer.Typer(help="Central: ingest, projections and the REST API.", no_args_is_help=True)
keys_app = typer.Typer(help="Radar signing keys.", no_args_is_help=True)
token_app = typer.Typer(help="Bearer tokens for the REST API.", no_args_is_help=True)
