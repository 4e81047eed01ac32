"""`speedledger sim ...` commands: shipped scenarios, runs against a deployment, ground-truth reports."""

import typer

sim_app = typer.Typer(
    help="Traffic simulator: a fleet of real radar agents against ground truth.", no_args_is_help=True
)


@sim_app.command("scenarios")
def scenarios() -> None:
    """List the shipped scenarios (name, duration, radars, faults, description)."""
    from speedledger.simulator.scenario import load, shipped

    for name in sorted(shipped()):
        scenario = load(name)
        faults = ", ".join(fault.kind for fault in scenario.faults) or "no faults"
        typer.echo(
            f"{name:<16} {scenario.duration_s:>6.0f} s  {len(scenario.radars)} radars  {faults}\n"
            f"{'':<16} {scenario.description}"
        )
