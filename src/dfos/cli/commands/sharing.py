"""``dfos sharing``: is this workspace's database, DFO_STATUS or a job file another workspace's?"""

from __future__ import annotations

import json

import click

from dfos.cli.context import Cli, pass_cli
from dfos.errors import ExitCode

__all__ = ["sharing_group"]


@click.group("sharing")
def sharing_group() -> None:
    """No hidden sharing: check the database, directories and job files; relocate job files; claim the database.

    A workspace shares nothing with another: its database (DB_URL) is owned by it, its directories
    (DFO_MON_DIR with DFO_STATUS, DFO_JOB_DIR, ...) lie in no other workspace, and its job files
    name no other root.  Commands that change state refuse a shared database or directory;
    'dfos status' and the monitor show every finding.  See docs/migration.md.
    """


@sharing_group.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@pass_cli
def check_cmd(cli: Cli, as_json: bool) -> None:
    """List what this workspace shares with another (exit 4 when something is refused, 1 on warnings only).

    Claims the database when nobody owns it yet (or it is this workspace's copied SQLite file).
    """
    from dfos.steps.sharing import REFUSE, sharing_findings

    found = sharing_findings(cli.workspace(), claim=True)
    if as_json:
        click.echo(json.dumps([f.to_json() for f in found], indent=1))
    elif not found:
        click.echo("nothing shared: the database is this workspace's, its directories and job files name no other")
    for finding in [] if as_json else found:
        click.echo(f"{finding.severity.upper()}: {finding.message}")
        if finding.fix:
            click.echo(f"  fix: {finding.fix}")
    if any(f.severity == REFUSE for f in found):
        raise click.exceptions.Exit(ExitCode.CONFIG)
    if found:
        raise click.exceptions.Exit(ExitCode.FAILURE)


@sharing_group.command("relocate")
@pass_cli
def relocate_cmd(cli: Cli) -> None:
    """Rewrite job files of $DFO_JOB_DIR that name a root (--root /...) to find their workspace themselves.

    Each is rewritten atomically under its lock: its header finds the root from where the file lies,
    its lines run '"$DFOS" --root "$DFOS_ROOT" ...', paths of the job directory become
    "$DFO_JOB_DIR"/NAME.  Files that already do are left alone.
    """
    from dfos.steps.sharing import relocate_jobs

    done = relocate_jobs(cli.workspace())
    for path in done:
        click.echo(f"relocated {path}")
    click.echo(f"{len(done)} job file(s) rewritten")


@sharing_group.command("claim")
@pass_cli
def claim_cmd(cli: Cli) -> None:
    """Make this workspace the owner of its database (DB_URL), taking it from another workspace.

    Only when the other workspace no longer uses the database (it moved, or it is gone on another
    host): two workspaces writing one database mix their runs, QC1 values and archive catalog.
    """
    from dfos.steps.sharing import claim_database, database_owner

    workspace = cli.workspace()
    before = database_owner(workspace)
    owner = claim_database(workspace)
    was = f" (was {before.root} on {before.host})" if before is not None and before.root != owner.root else ""
    click.echo(f"the database now belongs to {owner.root}{was}")
