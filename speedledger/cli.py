"""The `speedledger` console script: a thin root that loads each part's commands when they are used.

Each part needs its own extra (`pip install 'speedledger[edge]'`, `[central]`, `[sim]`): a radar with
only `[edge]` runs `speedledger edge ...` without FastAPI or psycopg installed. A command whose
packages are missing says which extra to install, in one line.
"""

import importlib
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from speedledger import __version__

#: Command -> (module, attribute: a Typer app or a command function, the extra it needs).
COMMANDS = {
    "broker": ("speedledger.central.entrypoints.broker", "broker", "central"),
    "central": ("speedledger.central.entrypoints.cli", "central_app", "central"),
    "keys": ("speedledger.edge.keys_cli", "keys_app", "edge"),
    "token": ("speedledger.central.entrypoints.cli", "token_app", "central"),
    "edge": ("speedledger.edge.cli", "edge_app", "edge"),
    # Checking an export needs no database and nothing beyond the base install.
    "verify": ("speedledger.central.entrypoints.evidence_cli", "verify", "central"),
    "notices": ("speedledger.central.entrypoints.evidence_cli", "notices", "central"),
    # `sim scenarios` needs [sim] only; `sim run` drives real agents against central and plots: [all].
    "sim": ("speedledger.simulator.cli", "sim_app", "all"),
}

#: What a command that is not installed accepts: anything, so that it can say what is missing.
ANY_ARGUMENTS = {"allow_extra_args": True, "ignore_unknown_options": True}


def _missing(name: str, error: ModuleNotFoundError) -> str:
    return f"`speedledger {name}` needs the module {error.name}: pip install 'speedledger[{COMMANDS[name][2]}]'"


def _is_missing_package(error: ModuleNotFoundError) -> bool:
    """A third-party package is not installed (not a broken import inside speedledger)."""
    return error.name is not None and error.name.split(".")[0] != "speedledger"


def _no_options() -> None:
    pass


def _mounted(name: str, target: typer.Typer | Callable[..., Any], **settings: Any) -> Any:
    """`target` (a Typer app or a command function, with typer's command `settings`) as `speedledger NAME`."""
    holder = typer.Typer(add_completion=False)
    holder.callback()(_no_options)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name, **settings)(target)
    group = typer.main.get_command(holder)
    assert isinstance(group, TyperGroup)
    return group.commands[name]


class LazyGroup(TyperGroup):
    """Imports a part's commands only when they are listed or run."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        module_name, attribute, _extra = COMMANDS[cmd_name]
        try:
            return _mounted(cmd_name, getattr(importlib.import_module(module_name), attribute))
        except ModuleNotFoundError as error:
            if not _is_missing_package(error):
                raise
            message = _missing(cmd_name, error)

            def unavailable() -> None:
                typer.echo(f"error: {message}", err=True)
                raise typer.Exit(1)

            unavailable.__doc__ = "Not installed: " + message.replace("[", "\\[")  # not a rich markup tag
            return _mounted(cmd_name, unavailable, context_settings=ANY_ARGUMENTS)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as error:
            if not _is_missing_package(error) or ctx.invoked_subcommand not in COMMANDS:
                raise
            typer.echo(f"error: {_missing(ctx.invoked_subcommand, error)}", err=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=LazyGroup, help="speedledger: automatic speed enforcement, edge to central.", no_args_is_help=True
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"speedledger {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """speedledger: automatic speed enforcement, edge to central."""
