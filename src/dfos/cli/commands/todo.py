"""``dfos check-job``, ``end-job``, ``reset``: ToDo lists that cannot hurt (:mod:`dfos.steps.todo`)."""

from __future__ import annotations

import sys
from datetime import date

import click

from dfos.cli.context import Cli, pass_cli
from dfos.cli.options import date_option, key_option
from dfos.errors import UsageError
from dfos.keys import ProcessingKey
from dfos.steps.todo import check_job, end_job, reset_date

__all__ = ["check_job_cmd", "end_job_cmd", "reset_cmd"]

_MODE = click.Choice(["CALIB", "SCIENCE"], case_sensitive=False)


@click.command("check-job")
@click.option("-m", "--mode", type=_MODE, default="CALIB", show_default=True)
@key_option()
@pass_cli
def check_job_cmd(cli: Cli, mode: str, day: date | ProcessingKey) -> None:
    """Refuse a job for DATE whose mode moved past processing (exit 3), before anything runs.

    The first line of every JOBS_NIGHT / JOBS_AUTO block: a block for a date whose
    MODE is certified, moved or harvested, or whose date is finished, stops the
    job file with one line saying why; DFO_STATUS is left as it is.
    """
    check_job(cli.workspace(), mode, day)
    click.echo(f"{mode.upper()} {ProcessingKey.of(day).text}: may be processed")


@click.command("end-job")
@click.option("-m", "--mode", type=_MODE, default="CALIB", show_default=True)
@key_option()
@click.option("--by", metavar="NAME", help="Who ran the job (default: the login name).")
@pass_cli
def end_job_cmd(cli: Cli, mode: str, day: date | ProcessingKey, by: str | None) -> None:
    """Close a job block: MODE_QC (cal_QC, sci_QC) for work done, and the block marked executed.

    The last line of every JOBS_NIGHT / JOBS_AUTO block.  Writes no flag (and exits
    3) when the date moved past processing, when an AB of the cascade is not in
    $DFO_AB_DIR, or when no AB of the cascade ran.  The block is then commented out
    under '# executed <UTC> by <who>, exit <status>': launching the file again
    skips it.
    """
    result = end_job(cli.workspace(), mode, day, by)
    marked = f"; block marked executed in {', '.join(result.marked)}" if result.marked else ""
    click.echo(f"{mode.upper()} {ProcessingKey.of(day).text}: {result.flag} ({result.ran} ABs ran, "
               f"{result.failed} failed){marked}")


@click.command("reset")
@click.option("-m", "--mode", type=_MODE, required=True, help="The mode to reset: CALIB or SCIENCE.")
@date_option()
@click.option("--yes", is_flag=True, help="Do not ask (needed when not run on a terminal).")
@click.option("--force", is_flag=True,
              help="Reset a date already moved or finished too (products already moved stay where they are).")
@pass_cli
def reset_cmd(cli: Cli, mode: str, day: date, yes: bool, force: bool) -> None:
    """Reset MODE of DATE to run again: ABs, DONE tags, run states, job files and unmoved products go.

    The mode's AB files ($DFO_AB_DIR) and AB list (with its DONE tags), its cascades'
    run states, its job files (execAB, execQC, rawDown, mcalDown, its block in
    JOBS_NIGHT / JOBS_AUTO) and its products still in $DFS_PRODUCT are removed;
    MODE_Reset (cal_Reset, sci_Reset) is appended to DFO_STATUS, so the date is
    offered createAB again, and a line goes to $DFO_MON_DIR/HISTORY.  Refused for a
    date already moved or finished unless --force; certified products already
    moved are never touched.  Asks first on a terminal; elsewhere --yes is needed.
    """
    mode = mode.upper()
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(f"reset removes the {mode} ABs, job files and unmoved products of {day}: "
                             "add --yes to confirm (not a terminal, cannot ask)")
        click.confirm(f"Remove the {mode} ABs, DONE tags, job files and unmoved products of {day}?", abort=True)
    result = reset_date(cli.workspace(), mode, day, force, note=click.echo)
    click.echo(f"{mode} {day}: reset ({len(result.abs)} ABs, {len(result.products)} products, "
               f"{len(result.job_files)} job files removed); {result.flag} written")
