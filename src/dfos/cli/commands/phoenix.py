"""``dfos phoenix``: unsupervised reprocessing of archived nights (DFOS phoenix, IDP mode)."""

from __future__ import annotations

from datetime import date

import click

from dfos.cli.context import Cli, pass_cli
from dfos.cli.options import DFO_DATE

__all__ = ["phoenix_cmd"]


@click.command("phoenix")
@click.option("-d", "--date", "day", type=DFO_DATE, help="Process this DFO date (YYYY-MM-DD).")
@click.option("-m", "--month", metavar="YYYY-MM", help="Process every date of this month the archive holds.")
@click.option("-n", "keep", is_flag=True, help="Keep the working files (raw frames, working products): no finish.")
@pass_cli
def phoenix_cmd(cli: Cli, day: date | None, month: str | None, keep: bool) -> None:
    """Reprocess archived nights unsupervised into science products (DFOS phoenix): one date (-d) or a month (-m).

    For each date: the archive's headers, then CALIB and SCIENCE: createAB, createJob, the raw frames, the
    cascade, QC; every successful AB without a red score is certified automatically (PHOENIX_CERTIFY),
    red ones wait for a person; move, ingest; finish unless -n.  Each date is a line of
    $DFO_JOB_DIR/JOBS_PHOENIX with how it ended.  Runs only in a phoenix workspace
    (dfos init DIR --flavour phoenix).  Exit 14 when some date waits for a person.
    """
    from dfos.errors import ExitCode, UsageError
    from dfos.steps.phoenix import month_dates, phoenix_date, queue

    if (day is None) == (month is None):
        raise UsageError("give one of -d DATE or -m YYYY-MM")
    workspace = cli.workspace()
    days = [day] if day is not None else month_dates(workspace, str(month))
    if not days:
        raise UsageError(f"the archive holds no date of {month}")
    queue(workspace, days)  # the campaign's ToDo list, before anything runs
    waiting = 0
    for one in days:
        result = phoenix_date(workspace, one, keep=keep, say=click.echo)
        waiting += bool(result.waiting)
        click.echo(f"{one}: {result.outcome}")
    if waiting:
        raise click.exceptions.Exit(ExitCode.WAITS_FOR_PERSON)
