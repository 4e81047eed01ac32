"""The `speedledger` console script: a thin root that mounts each part's own commands."""

import typer

from speedledger.central.entrypoints.broker import broker
from speedledger.central.entrypoints.cli import central_app, keys_app, token_app
from speedledger.edge.cli import edge_app

app = typer.Typer(help="speedledger: automatic speed enforcement, edge to central.", no_args_is_help=True)
app.add_typer(central_app, name="central")
app.add_typer(keys_app, name="keys")
app.add_typer(token_app, name="token")
app.add_typer(edge_app, name="edge")
app.command("broker")(broker)
