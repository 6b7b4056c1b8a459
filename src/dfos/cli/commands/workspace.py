"""Commands about the workspace itself: init, env, config show."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dfos.cli.context import Cli, pass_cli
from dfos.config.settings import Flavour
from dfos.instruments.registry import available
from dfos.workspace import init_workspace

__all__ = ["config_group", "env_cmd", "init_cmd"]


@click.command("init")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--instrument",
    "instruments",
    metavar="NAME",
    multiple=True,
    help=f"Instrument plugin ({', '.join(sorted(available()))}); default UVES.  The opshub flavour takes several: "
         "one workspace DIRECTORY/NAME each.",
)
@click.option(
    "--flavour",
    type=click.Choice([f.value for f in Flavour], case_sensitive=False),
    help="Workflow flavour; default dfos_ops.",
)
@pass_cli
def init_cmd(cli: Cli, directory: Path, instruments: tuple[str, ...], flavour: str | None) -> None:
    """Create a workspace: DIRECTORY/dfos.toml and the DFOS directory tree.

    The tree holds raw, headers, calib (MCAL, VCAL), logs, plots, lists,
    monitor, jobs, config, AB, products and archive.  Running it on an existing
    workspace only adds missing directories.  With --flavour opshub, DIRECTORY
    becomes an OPSHUB root: DIRECTORY/OPSHUB lists its instruments and each gets
    its own workspace DIRECTORY/NAME (docs/opshub.md).
    """
    if flavour is not None and flavour.lower() == Flavour.OPSHUB.value:
        _init_opshub(cli, directory, instruments)
        return
    if len(instruments) > 1:
        from dfos.errors import UsageError

        raise UsageError("one --instrument per workspace; several only with --flavour opshub (one workspace each)")
    workspace, created = init_workspace(directory, cli.env, instruments[0] if instruments else None, flavour)
    verb = "created" if created else "checked"
    s = workspace.settings
    click.echo(f"{verb} {s.FLAVOUR.value} workspace for {s.INSTRUMENT} in {workspace.root}")
    click.echo(f"next: export DFOS_ROOT={workspace.root}   (or: eval \"$(dfos --root {workspace.root} env)\")")


def _init_opshub(cli: Cli, directory: Path, instruments: tuple[str, ...]) -> None:
    from dfos.steps.opshub import init_opshub

    for workspace, created in init_opshub(directory, cli.env, instruments):
        verb = "created" if created else "checked"
        click.echo(f"{verb} opshub workspace for {workspace.settings.INSTRUMENT} in {workspace.root}")
    click.echo(f"next: dfos --root {directory} project create NAME --instrument I --dates D1,D2")


@click.command("env")
@pass_cli
def env_cmd(cli: Cli) -> None:
    """Print 'export NAME=value' lines for every DFOS variable.

    Use it in scripts and cron lines: eval "$(dfos env)".
    """
    click.echo(cli.workspace().env_script(), nl=False)


@click.group("config")
def config_group() -> None:
    """Inspect the layered configuration."""


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def config_show(cli: Cli, as_json: bool) -> None:
    """Print every configuration value and where it came from.

    Layers, lowest first: embedded defaults, dfos.toml, DFOS_<KEY> environment
    variables, --set KEY=VALUE on the command line.
    """
    rows = cli.workspace().config.rows()
    if as_json:
        doc = {k: {"value": v, "source": o.source.value, "where": o.where} for k, v, o in rows}
        click.echo(json.dumps(doc, indent=2))
        return
    width = max(len(k) for k, _, _ in rows)
    vwidth = max(len(v) for _, v, _ in rows)
    for key, value, origin in rows:
        click.echo(f"{key:<{width}}  {value:<{vwidth}}  {origin.source.value}: {origin.where}")
