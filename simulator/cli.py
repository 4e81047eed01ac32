"""`speedledger sim ...` commands: shipped scenarios, runs against a deployment, ground-truth reports."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from speedledger.simulator.scenario import Scenario
    from speedledger.simulator.traffic import Truth

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


@sim_app.command("run")
def run(
    scenario: Annotated[str, typer.Argument(help="A shipped scenario's name (`sim scenarios`) or a TOML file.")],
    speedup: Annotated[float, typer.Option(min=0.1, help="Simulated seconds per wall second, CPU permitting.")] = 1.0,
    report: Annotated[Path, typer.Option(help="Folder for report.json, report.html and the run's files.")] = Path(
        "sim-report"
    ),
) -> None:
    """Run a scenario: real radar agents against the broker and central, then the ground-truth report.

    Starts the embedded broker and central (SQLite in the report folder) unless SPEEDLEDGER_MQTT /
    SPEEDLEDGER_HTTP (with SPEEDLEDGER_TOKEN) name running ones. Exit status 1 when an invariant fails.
    """
    _run_and_report(_load(scenario), speedup, report, None)


def _load(scenario: str) -> "Scenario":
    """The scenario, or one error line and exit status 2."""
    from speedledger.simulator.scenario import ScenarioError, load

    try:
        return load(scenario)
    except ScenarioError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


def _run_and_report(loaded: "Scenario", speedup: float, report: Path, truth: "Truth | None") -> None:
    from speedledger.simulator import deployment, report_html
    from speedledger.simulator import report as ground_truth
    from speedledger.simulator.registry import RegistrationError
    from speedledger.simulator.run import SimulationError, progress_bar, run_scenario

    try:
        report.mkdir(parents=True, exist_ok=True)
        with deployment.from_environment(report) as target, progress_bar() as bar:
            record = run_scenario(loaded, target, report, speedup, bar, truth)
    except (deployment.DeploymentError, RegistrationError, SimulationError, TimeoutError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    result = ground_truth.build(record)
    page = report_html.write(result, report)
    for invariant in result["invariants"]:
        typer.echo(f"{'ok  ' if invariant['holds'] else 'FAIL'} {invariant['name']}: {invariant['detail']}")
    behind = max(log.behind_s for log in record.radars.values())
    if behind > 1.0:
        typer.echo(f"note: the CPU could not keep up with --speedup {speedup:g} (up to {behind:.1f} s behind)")
    typer.echo(f"report: {page} and {report / 'report.json'}")
    if not result["passed"]:
        raise typer.Exit(1)


@sim_app.command("record")
def record(
    scenario: Annotated[str, typer.Argument(help="A shipped scenario's name or a TOML file.")],
    out: Annotated[Path, typer.Option(help="Folder for passes.csv and each radar's roadside.wav and camera/.")],
) -> None:
    """Write a scenario's passes (CSV), IQ WAVs and camera frames, for `edge run`, `edge measure` or `sim replay`."""
    from speedledger.simulator.record import record as write_recordings

    loaded = _load(scenario)
    try:
        commands = write_recordings(loaded, out)
    except OSError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {out / 'passes.csv'} and one folder per radar; measure them with:")
    for command in commands:
        typer.echo(f"  {command}")


@sim_app.command("replay")
def replay(
    passes: Annotated[Path, typer.Argument(help="CSV of passes: time_s,radar,lane,speed_kmh,plate (a header line).")],
    scenario: Annotated[str, typer.Option(help="Scenario giving the radars, duration, owners and faults.")],
    speedup: Annotated[float, typer.Option(min=0.1, help="Simulated seconds per wall second, CPU permitting.")] = 1.0,
    report: Annotated[Path, typer.Option(help="Folder for report.json, report.html and the run's files.")] = Path(
        "sim-report"
    ),
) -> None:
    """Drive the fleet from a log of passes instead of generated traffic; the same run and report as `sim run`."""
    from speedledger.simulator import passlog
    from speedledger.simulator.scenario import ScenarioError

    loaded = _load(scenario)
    try:
        truth = passlog.read(passes, loaded)
    except ScenarioError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    _run_and_report(loaded, speedup, report, truth)
