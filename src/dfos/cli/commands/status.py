"""Commands about DFO_STATUS: status (the date table) and flag."""

from __future__ import annotations

import json
from datetime import date

import click
from rich.console import Console
from rich.table import Table

from dfos.cli.context import Cli, pass_cli
from dfos.cli.options import date_option
from dfos.status.flags import StatusFlag
from dfos.status.machine import DateView
from dfos.steps.status import DateTable, append_flag, date_table, trim_status
from dfos.workspace import Workspace

__all__ = ["flag_cmd", "render_table", "status_cmd"]

_STYLE = {
    "WAIT": "bright_black",
    "OFFER": "bold yellow",
    "DONE": "green",
    "GREEN": "green",
    "YELLOW": "yellow",
    "RED": "bold red",
}
_TITLES = ("complete?", "createAB", "ABs", "certify/move", "certify -L", "SCIENCE\ncreateAB", "SCIENCE\nABs",
           "SCIENCE\ncertify/move", "finish", "remove")
#: The AB-count column of each mode's ABs step.
_COUNTS = {"abs": "n_cal_abs", "sci_abs": "n_sci_abs"}


def _cell(view: DateView, step: str, state: str) -> str:
    label = state
    if step in _COUNTS:
        n = view.extra.get(_COUNTS[step])
        label = f"{state} ({n})" if n is not None else state
    return f"[{_STYLE[state]}]{label}[/]"


def render_table(table: DateTable) -> Table:
    """The date table as a rich Table (colours: grey WAIT, yellow OFFER, green DONE, red incomplete)."""
    out = Table(title=f"DFO dates (TODAY = {table.today})", title_justify="left")
    out.add_column("DATE", no_wrap=True, min_width=10)  # narrow terminals shorten the steps, never the date
    for title in _TITLES:
        out.add_column(title, no_wrap=True)
    out.add_column("last flag", no_wrap=True, min_width=14)
    for view in table.rows:
        label = f"{view.date} [bold]today[/]" if view.today else str(view.date)
        cells = [_cell(view, step, state) for step, state in view.steps().items()]
        out.add_row(label, *cells, view.last_flag or "-")
    return out


def _sharing(workspace: Workspace) -> None:
    """What the workspace shares with another (docs/migration.md), on stderr: one line each."""
    from dfos.errors import DfosError
    from dfos.steps.sharing import REFUSE, sharing_findings

    try:
        found = sharing_findings(workspace)
    except DfosError as exc:  # the date table needs no database: say why sharing was not checked
        click.echo(f"Warning: sharing not checked: {exc.message}", err=True)
        return
    for finding in found:
        word = "REFUSED" if finding.severity == REFUSE else "Warning"
        click.echo(f"{word}: {finding.message}", err=True)


@click.command("status")
@date_option(required=False, help="Show only this date (even if the table would not list it).")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON for scripts.")
@click.option("--trim", is_flag=True, help="First trim DFO_STATUS to its newest STATUS_KEEP_LINES lines.")
@pass_cli
def status_cmd(cli: Cli, day: date | None, as_json: bool, trim: bool) -> None:
    """Show the date table: per DFO date, what is done (DONE), offered (OFFER) or waiting (WAIT).

    A date is listed when its raw directory exists, fits_Requested is set,
    removed is not, and it is among the newest N_DFO_HDR header dates.
    """
    workspace = cli.workspace()
    if trim:
        dropped = trim_status(workspace)
        click.echo(f"DFO_STATUS: {dropped} old line(s) trimmed", err=True)
    table = date_table(workspace, only=day)
    _sharing(workspace)
    if as_json:
        click.echo(json.dumps(table.to_json(), indent=1))
        return
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=max(console.width, 132))
    if not table.rows:
        console.print(f"No open dates (TODAY = {table.today}). Extract headers with 'dfos headers -d DATE'.")
        return
    console.print(render_table(table))


@click.command("flag")
@click.argument("flag", type=click.Choice([f.value for f in StatusFlag]), metavar="FLAG")
@date_option()
@click.option("--force", is_flag=True, help="Write a processing flag even for a date moved past it (a roll-back).")
@pass_cli
def flag_cmd(cli: Cli, flag: str, day: date, force: bool) -> None:
    """Append '<FLAG> <DATE> <now>' to DFO_STATUS, atomically under a lock.

    FLAG is one of the DFO_STATUS workflow flags: fits_Requested, raw_Complete,
    raw_Incomplete, cal_AB, cal_Queued, cal_QC, cal_Certif, cal_Updated,
    sci_AB, sci_Queued, sci_QC, sci_Certif, sci_Updated, sci_Harvested,
    finished, removed, cal_Reset, sci_Reset.  Job files use this instead of
    'echo >> DFO_STATUS'.  A processing flag (MODE_AB, MODE_Queued, MODE_QC) for a
    date whose mode is certified, moved or finished would roll it back: refused
    unless --force.
    """
    from dfos.keys import Stage, parse_mode_flag
    from dfos.steps.todo import check_job

    parsed = parse_mode_flag(flag)
    workspace = cli.workspace()
    if parsed is not None and parsed[1] in (Stage.AB, Stage.QUEUED, Stage.QC) and not force:
        check_job(workspace, parsed[0], day)
    append_flag(workspace, flag, day)
