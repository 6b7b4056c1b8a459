"""``dfos release``: replacing a processing release (hide what it supersedes, raw2raw meanwhile, undo);
docs/releases.md."""

from __future__ import annotations

from datetime import date

import click

from dfos.cli.context import Cli, pass_cli
from dfos.cli.options import DFO_DATE
from dfos.errors import UsageError

__all__ = ["release_group"]

_RELEASE = click.option("--release", "release", metavar="ID", help="The new release (e.g. UVES_R2).")
_FROM = click.option("--from", "first", type=DFO_DATE, help="First DFO date of the range.")
_TO = click.option("--to", "last", type=DFO_DATE, help="Last DFO date of the range (inclusive).")


def _range(first: date | None, last: date | None) -> tuple[date, date]:
    if first is None or last is None:
        raise UsageError("give the range with --from DATE --to DATE")
    return first, last


@click.group("release")
def release_group() -> None:
    """Replace a processing release: hide what it supersedes in the archive, raw2raw meanwhile, undo.

    The sequence (docs/releases.md): 'release hide' the old range, 'release raw2raw' over it, ingest the
    new release, 'release raw2raw --lift'.  Every change goes to $DFO_MON_DIR/RELEASE_LOG.
    """


@release_group.command("hide")
@_RELEASE
@_FROM
@_TO
@click.option("--kind", type=click.Choice(["CALIB", "SCIENCE", "ALL"], case_sensitive=False), default="CALIB",
              show_default=True, help="Which catalog entries: master calibrations, science products (IDPs), both.")
@click.option("--dry-run", is_flag=True, help="Print what would be hidden; change nothing.")
@pass_cli
def hide_cmd(cli: Cli, release: str | None, first: date | None, last: date | None, kind: str, dry_run: bool) -> None:
    """Hide the archive catalog entries of --from..--to for --release (never static calibrations)."""
    from dfos.steps.release import hide

    if not release:
        raise UsageError("give the new release with --release ID")
    first, last = _range(first, last)
    result = hide(cli.workspace(), release, first, last, kind, dry_run)
    verb = "would hide" if dry_run else "hidden"
    for entry in result.hidden:
        click.echo(f"{verb} {entry.date} {entry.mode} {entry.name}")
    others = sorted({str(e.hidden_by) for e in result.already if e.hidden_by != result.release})
    click.echo(f"{release} {first}..{last} {kind.upper()}: {len(result.hidden)} {verb}, "
               f"{len(result.already)} hidden before" + (f" (by {', '.join(others)})" if others else "")
               + f", {len(result.static)} static calibrations kept visible (a release never replaces them)")


@release_group.command("undo")
@_RELEASE
@pass_cli
def undo_cmd(cli: Cli, release: str | None) -> None:
    """Show again every archive entry --release hides (and lift its raw2raw window if one is open)."""
    from dfos.steps.release import undo

    if not release:
        raise UsageError("give the release to undo with --release ID")
    result = undo(cli.workspace(), release)
    for entry in result.shown:
        click.echo(f"shown {entry.date} {entry.mode} {entry.name}")
    lifted = f"; raw2raw window {result.lifted.render()} lifted" if result.lifted else ""
    click.echo(f"{release}: {len(result.shown)} shown again{lifted}")


@release_group.command("raw2raw")
@_FROM
@_TO
@_RELEASE
@click.option("--lift", "--off", "lift", is_flag=True, help="Lift the open window: raw2master again.")
@pass_cli
def raw2raw_cmd(cli: Cli, first: date | None, last: date | None, release: str | None, lift: bool) -> None:
    """Open a raw2raw window --from..--to: createAB associates no certified master of those dates (static
    ones still count), so science takes virtual products of the CALIB ABs; --lift ends it."""
    from dfos.steps.release import lift_window, open_window

    workspace = cli.workspace()
    if lift:
        if first or last or release:
            raise UsageError("--lift takes no --from, --to or --release: it lifts the open window")
        done = lift_window(workspace)
        click.echo(f"raw2raw window {done.render()} lifted: raw2master again")
        return
    first, last = _range(first, last)
    opened = open_window(workspace, first, last, release)
    click.echo(f"raw2raw window {opened.render()} set: createAB skips certified masters of those dates "
               "(run 'dfos create-ab' again for the dates to re-associate)")


@release_group.command("status")
@_FROM
@_TO
@click.option("--kind", type=click.Choice(["CALIB", "SCIENCE", "ALL"], case_sensitive=False), default="ALL",
              show_default=True)
@pass_cli
def status_cmd(cli: Cli, first: date | None, last: date | None, kind: str) -> None:
    """The releases and what each hides, the raw2raw windows; with --from/--to the catalog entries of the
    range and their state (visible, static, hidden by ...)."""
    from dfos.steps.release import catalog_entries, hidden_counts, windows

    workspace = cli.workspace()
    for release, count in hidden_counts(workspace).items():
        click.echo(f"release {release}: hides {count} entries")
    for record in windows(workspace):
        state = f"lifted {record.lifted}" if record.lifted else "OPEN"
        click.echo(f"raw2raw {record.window.render()} release {record.window.release}: "
                   f"opened {record.opened}, {state}")
    if first or last:
        first, last = _range(first, last)
        for entry in catalog_entries(workspace, first, last, kind):
            click.echo(f"{entry.date} {entry.mode:7} {entry.name}  {entry.state}")
