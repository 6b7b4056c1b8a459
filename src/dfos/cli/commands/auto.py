"""``dfos auto-daily`` and ``dfos cron``: the automatic day and its cron jobs (DFOS autoDaily, dfosCron)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from datetime import date

import click

from dfos.cli.context import Cli, pass_cli
from dfos.cli.options import DFO_DATE

__all__ = ["auto_daily_cmd", "cron_group", "export_lines"]


@click.command("auto-daily")
@click.option("-D", "dates", type=DFO_DATE, multiple=True, help="Process this date (repeatable) instead of detecting.")
@pass_cli
def auto_daily_cmd(cli: Cli, dates: tuple[date, ...]) -> None:
    """One automatic run: new data -> headers, ABs, cascade, QC, trends (DFOS autoDaily).

    Returns at once when nothing is new.  Only one runs at a time: a second one
    exits with 13.  Log: $DFO_MON_DIR/AUTO_DAILY/.
    """
    from dfos.steps.auto_daily import auto_daily

    result = auto_daily(cli.workspace(), list(dates) or None, say=click.echo)
    if result.log:
        click.echo(f"log: {result.log}")


@click.group("cron")
def cron_group() -> None:
    """dfosCron: run dfos jobs from cron with logs, and the crontab lines that do it."""


JOBS = {"autoDaily": ["auto-daily"], "health": ["health"], "export": ["monitor", "export"],
        "calChecker": ["cal-checker"]}


@cron_group.command("run")
@click.option("-t", "job", type=click.Choice(sorted(JOBS)), required=True, help="The job.")
@click.option("--if-requested", is_flag=True,
              help="Only when a forced refresh was requested (the monitor's button, or the request file).")
@pass_cli
def cron_run_cmd(cli: Cli, job: str, if_requested: bool) -> None:
    """Run a job with its output logged to $DFO_MON_DIR/CRON_LOGS/<job>_<time>.log."""
    from dfos import clock
    from dfos.steps.auto_daily import request_file

    workspace = cli.workspace()
    request = request_file(workspace)
    if if_requested:
        if not request.exists():
            return
        request.unlink(missing_ok=True)
    logs = workspace.mon_dir / "CRON_LOGS"
    logs.mkdir(parents=True, exist_ok=True)
    stamp = clock.now(workspace.settings).strftime("%Y%m%dT%H%M%S")
    log = logs / f"{job}_{stamp}.log"
    argv = [sys.executable, "-m", "dfos.cli.main", "--root", str(workspace.root), *JOBS[job]]
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ dfos {' '.join(JOBS[job])}\n")
        out.flush()
        code = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              check=False).returncode
        out.write(f"exit {code}\n")
    if code not in (0, 13):
        raise click.exceptions.Exit(code)


def crontab_lines(cli: Cli) -> list[str]:
    workspace = cli.workspace()
    dfos = shlex.quote(str(workspace.bin_dir / "dfos"))
    root = shlex.quote(str(workspace.root))
    return [
        f"# dfos {workspace.root}",
        f"17 * * * * {dfos} --root {root} cron run -t autoDaily",
        f"* * * * * {dfos} --root {root} cron run -t autoDaily --if-requested",
        f"*/30 * * * * {dfos} --root {root} cron run -t calChecker",
        f"43 6 * * * {dfos} --root {root} cron run -t health",
        *export_lines(workspace.settings.EXPORT_EVERY, dfos, root),
    ]


def export_lines(every: int, dfos: str, root: str) -> list[str]:
    """The static export for the QC web (``dfos monitor export``, then EXPORT_COMMAND) every ``every``
    minutes; none for 0."""
    if not every:
        return []
    minutes = "0" if every == 60 else f"*/{every}"
    return [f"{minutes} * * * * {dfos} --root {root} cron run -t export"]


def merged_crontab(current: str, lines: list[str], root: str) -> str:
    """The crontab ``current`` with this workspace's block (``lines``: its marker comment, then its jobs)
    in place of the one installed before, at the end: the old marker goes, and the lines right behind it
    that run dfos on ``root``.  Every other line stays byte for byte: comments, environment lines, jobs
    (also one added right behind the block), lines cron would not even read.

    Done by hand, not with python-crontab: measured on such a crontab (issue 16), python-crontab 3.4
    moved the environment lines above the first comment, rewrote the spacing of other jobs and of
    inline comments, turned ``#15 * * * *`` into ``# 15 * * * *``, dropped a blank line, commented out
    a line it could not parse under a ``# DISABLED LINE`` of its own, and printed to stdout."""
    marker, ours = lines[0], f" --root {shlex.quote(root)} "
    kept: list[str] = []
    in_block = False
    for line in current.splitlines():
        if line == marker:
            in_block = True
            continue
        if in_block and ours in line and not line.lstrip().startswith("#"):
            continue
        in_block = False
        kept.append(line)
    return "\n".join([*kept, *lines]) + "\n"


@cron_group.command("install")
@click.option("--apply", is_flag=True, help="Install the lines into the user's crontab (others are kept).")
@pass_cli
def cron_install_cmd(cli: Cli, apply: bool) -> None:
    """Print the crontab lines of this workspace (hourly autoDaily, forced refresh each minute, calChecker
    every half hour, daily trends, the static export every EXPORT_EVERY minutes); with --apply put them into
    the crontab, replacing this workspace's earlier lines."""
    from dfos.steps.shadow import check_takeover, record_takeover

    lines = crontab_lines(cli)
    if not apply:
        click.echo("\n".join(lines))
        return
    workspace = cli.workspace()
    shadowing = check_takeover(workspace)  # a shadowing installation takes over only once it is ready
    crontab = shutil.which("crontab")
    if crontab is None:
        raise click.ClickException("no crontab program on this machine; add the lines printed without --apply")
    current = subprocess.run([crontab, "-l"], capture_output=True, text=True, check=False).stdout
    merged = merged_crontab(current, lines, str(workspace.root))
    moved = 0
    if shadowing is not None:
        merged, moved = without_auto_daily(merged, shadowing, str(workspace.root))
    subprocess.run([crontab, "-"], input=merged, text=True, check=True)
    click.echo(f"installed {len(lines) - 1} crontab lines")
    if shadowing is not None:
        record_takeover(workspace)
        click.echo(f"autoDaily moved here from {shadowing}: {moved} of its crontab lines commented out" if moved else
                   f"no autoDaily line of {shadowing} in this crontab: comment it out where the reference runs "
                   "(crontab -e on its machine)")


def without_auto_daily(current: str, reference: str, new_root: str) -> tuple[str, int]:
    """The crontab with the reference installation's autoDaily lines commented out (a marker says where
    autoDaily went), and how many; every other line stays byte for byte."""
    theirs = f" --root {shlex.quote(reference)} "
    kept, moved = [], 0
    for line in current.splitlines():
        if theirs in line and "cron run -t autoDaily" in line and not line.lstrip().startswith("#"):
            kept.append(f"# autoDaily moved to {new_root} (dfos shadow): {line}")
            moved += 1
        else:
            kept.append(line)
    return "\n".join(kept) + "\n", moved
