"""``dfos instruments``: every instrument dfos can run on this machine (a report, exit 0)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dfos.cli.context import Cli, pass_cli
from dfos.errors import WorkspaceError
from dfos.instruments.inventory import inventory, render_table
from dfos.workspace import Workspace, find_root

__all__ = ["instruments_cmd"]


@click.command("instruments")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def instruments_cmd(cli: Cli, as_json: bool) -> None:
    """List every instrument dfos can run here, and what it needs.

    Per instrument: plugin origin (built-in or entry point), pipeline package and version, whether
    esorex finds the recipes its rules name, where its rules come from (ESO's installed .oca, dfos's own
    rule set, or this workspace's OCA_RULES), how many actions declare products (the product map).  A
    missing pipeline or esorex is shown in STATUS; the command still exits 0.
    """
    workspace = _workspace_if_any(cli)
    instrument: str | None = None
    esorex, rules = "esorex", list[Path]()
    if workspace is not None:
        instrument, esorex, rules = workspace.settings.INSTRUMENT, workspace.settings.ESOREX, workspace.oca_rules()
    rows = inventory(esorex, instrument, rules)
    if as_json:
        click.echo(json.dumps([row.as_json() for row in rows], indent=2))
    else:
        click.echo(render_table(rows), nl=False)


def _workspace_if_any(cli: Cli) -> Workspace | None:
    """The workspace when one is named (--root, DFOS_ROOT) or found above the current directory."""
    if cli.root is None and not cli.env.get("DFOS_ROOT"):
        try:
            find_root(None, cli.env, Path.cwd())
        except WorkspaceError:
            return None
    return cli.workspace()
