"""`speedledger edge ...` commands."""

import typer

edge_app = typer.Typer(help="The radar agent: measure, read plates, run.", no_args_is_help=True)
