"""``dfos phoenix``: unsupervised reprocessing of archived nights (DFOS phoenix): IDP mode by date or month,
DEEP mode by run."""

from __future__ import annotations

from datetime import date

import click

from dfos.cli.context import Cli, pass_cli
from dfos.cli.options import DFO_DATE

__all__ = ["phoenix_cmd"]


@click.command("phoenix")
@click.option("-d", "--date", "day", type=DFO_DATE, help="Process this DFO date (YYYY-MM-DD).")
@click.option("-m", "--month", metavar="YYYY-MM", help="Process every date of this month the archive holds.")
@click.option("-r", "--run", "run", metavar="RUN_ID", help="DEEP mode: a run (090.C-0456(A)), with -C, -P or -M.")
@click.option("-C", "create", is_flag=True, help="DEEP: create the run's ABs, one per target, across its nights.")
@click.option("-P", "process", is_flag=True, help="DEEP: process the run's ABs (or one target with -a).")
@click.option("-M", "finish_run", is_flag=True,
              help="DEEP: certify, move to $DFO_SCI_DIR/RUN_ID and ingest every processed target not moved yet.")
@click.option("--last", "last", is_flag=True, help="DEEP -M: only the target processed last.")
@click.option("-a", "ab", metavar="AB", help="DEEP -P: only this target's AB (TARGET_SELECT).")
@click.option("-n", "keep", is_flag=True, help="Keep the working files (raw frames, working products): no finish.")
@pass_cli
def phoenix_cmd(cli: Cli, day: date | None, month: str | None, run: str | None, create: bool, process: bool,
                finish_run: bool, last: bool, ab: str | None, keep: bool) -> None:
    """Reprocess archived nights unsupervised into science products (DFOS phoenix): one date (-d) or a month (-m).

    For each date: the archive's headers, then CALIB and SCIENCE: createAB, createJob, the raw frames, the
    cascade, QC; every successful AB without a red score is certified automatically (PHOENIX_CERTIFY),
    red ones wait for a person; move (science products carry the IDP keywords), ingest; finish unless -n.
    With COMPLETE_MODE (dfos.toml), the science takes its calibrations from the dates around it
    (COMPLETE_DAYS): the calibrations it needs are built first, once, in one cascade, into
    $DFO_CAL_DIR/NEW/DATE, then the science of every date in one cascade.
    DEEP mode: -r RUN_ID -C creates one AB per target of the run, combining its frames of every night whose
    headers are in; -P processes them (-a AB: one target); -M certifies, moves and ingests every processed
    target not moved yet (--last: only the target processed last), into $DFO_SCI_DIR/RUN_ID where the run's
    products accumulate; targets not processed yet are named and wait for a later -M.  Each step is a
    line of $DFO_JOB_DIR/JOBS_PHOENIX with how it ended.  Runs only in a phoenix workspace
    (dfos init DIR --flavour phoenix).  Exit 14 when something waits for a person, 11 when -P ends with
    failed or blocked ABs.
    """
    from dfos.errors import ExitCode, UsageError

    if sum(x is not None for x in (day, month, run)) != 1:
        raise UsageError("give one of -d DATE, -m YYYY-MM or -r RUN_ID")
    if last and not finish_run:
        raise UsageError("--last goes with -r RUN_ID -M (move the target processed last)")
    if run is None and (create or process or finish_run or ab):
        raise UsageError("-C, -P, -M and -a go with -r RUN_ID (DEEP mode)")
    waiting = _deep(cli, run, create, process, (finish_run, last), ab) if run is not None \
        else _dates(cli, day, month, keep)
    if waiting:
        raise click.exceptions.Exit(ExitCode.WAITS_FOR_PERSON)


def _dates(cli: Cli, day: date | None, month: str | None, keep: bool) -> int:
    from dfos.errors import UsageError
    from dfos.steps.phoenix import month_dates, phoenix_dates

    workspace = cli.workspace()
    days = [day] if day is not None else month_dates(workspace, str(month))
    if not days:
        raise UsageError(f"the archive holds no date of {month}")
    from dfos.cli.progress import cascade_bars

    with cascade_bars() as show:
        results = phoenix_dates(workspace, days, day.isoformat() if day is not None else str(month), keep=keep,
                                say=click.echo, progress=show)
    for result in results:
        click.echo(f"{result.date}: {result.outcome}")
    return sum(bool(result.waiting) for result in results)


def _deep(cli: Cli, run: str, create: bool, process: bool, finish: tuple[bool, bool], ab: str | None) -> int:
    from dfos.errors import UsageError
    from dfos.steps.phoenix import deep_create, deep_process
    from dfos.steps.phoenix_deep import deep_move

    finish_run, last = finish

    if sum((create, process, finish_run)) != 1:
        raise UsageError("-r RUN_ID takes one of -C (create), -P (process) or -M (certify and move)")
    if ab is not None and not process:
        raise UsageError("-a AB goes with -P (process one target)")
    workspace = cli.workspace()
    if create:
        for name in deep_create(workspace, run):
            click.echo(f"deep AB {name}")
        return 0
    if process:
        counts = deep_process(workspace, run, ab, note=click.echo)
        if counts.get("failed") or counts.get("blocked"):
            from dfos.errors import ExitCode

            raise click.exceptions.Exit(ExitCode.CASCADE_FAILED)
        return 0
    moved = deep_move(workspace, run, last=last, note=click.echo)
    click.echo(f"{moved.run}: {moved.outcome}")
    return len(moved.waiting)
