"""``dfos create-job``, ``exec-cascade``, ``cascade-stat``, ``stop-cascade``, ``watch-queue``, the fetches."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import date
from functools import partial
from pathlib import Path

import click

from dfos.cascade.run import cascade_state, check_dag_id, request_stop
from dfos.cli.context import Cli, pass_cli
from dfos.cli.options import date_option
from dfos.cli.progress import cascade_bars
from dfos.errors import DfosError, ExitCode, UnsafeName
from dfos.steps.cascade import exec_cascade
from dfos.steps.create_job import create_job
from dfos.steps.fetch import fetch_many, fetch_masters

__all__ = ["ExecutorChoice", "cascade_stat_cmd", "create_job_cmd", "exec_cascade_cmd", "fetch_mcal_cmd",
           "fetch_raw_cmd", "requeue_cmd", "stop_cascade_cmd", "watch_queue_cmd"]


class ExecutorChoice(click.Choice[str]):
    """The registered executors (:mod:`dfos.executors.registry`), looked up when ``--executor`` is used or
    shown, not when the command line starts."""

    def __init__(self) -> None:
        super().__init__((), case_sensitive=True)

    @property  # type: ignore[override]
    def choices(self) -> Sequence[str]:
        from dfos.executors.registry import names

        return names()

    @choices.setter
    def choices(self, _value: Sequence[str]) -> None:
        """click.Choice sets its choices; the registry's are kept."""


def _dag_id(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """--dag-id names files (a lock, a stop request): one safe file name (a usage error otherwise, exit 2)."""
    try:
        return check_dag_id(value)
    except UnsafeName as exc:
        raise click.BadParameter(exc.message) from None


def dag_id_option(help: str | None = None) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """``--dag-id``, checked to be a safe file name."""
    return click.option("--dag-id", required=True, callback=_dag_id, help=help)


@click.command("create-job")
@click.option("-m", "--mode", type=click.Choice(["CALIB", "SCIENCE"], case_sensitive=False), default="CALIB",
              show_default=True)
@date_option()
@click.option("-F", "auto", is_flag=True, help="Append to JOBS_AUTO (autoDaily) instead of JOBS_NIGHT.")
@click.option("-a", "subcascade", metavar="AB", help="Write the subcascade of AB (execAB_MODE_DATE_sub) only.")
@click.option("-r", "recreate", is_flag=True,
              help="Recreate: write the date's job files and block anew from its ABs (DONE ones too), replacing the "
                   "old block wherever it is.")
@pass_cli
def create_job_cmd(cli: Cli, mode: str, day: date, auto: bool, subcascade: str | None, recreate: bool) -> None:
    """Write the execution files of DATE and its block in the job file (DFOS createJob).

    execAB_MODE_DATE (DRS_TYPE), execQC_MODE_DATE (QCBQS_TYPE), rawDown_MODE_DATE
    if raw frames must be fetched, mcalDown_MODE_DATE if certified masters must be
    fetched back from the archive, the block in JOBS_NIGHT (or JOBS_AUTO with -F),
    and cal_Queued.  Launching the job file processes the date.  Refused for a
    date whose mode is certified, moved or finished (dfos check-job).
    """
    from dfos.steps.todo import check_job, recreate_job

    if recreate and subcascade:
        raise click.UsageError("-r recreates the whole job of the date; it does not go with -a")
    workspace = cli.workspace()
    check_job(workspace, mode, day)
    files = recreate_job(workspace, day, mode, auto) if recreate else \
        create_job(workspace, day, mode, auto=auto, subcascade=subcascade)
    click.echo(f"{files.exec_ab} ({len(files.abs)} ABs)")
    for extra in (files.exec_qc, files.raw_down, files.mcal_down, files.job_file):
        if extra:
            click.echo(str(extra))


@click.command("exec-cascade")
@dag_id_option(help="Cascade id, e.g. CALIB_2013-02-12.")
@click.option("--jobs", "jobs", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="The execAB file.")
@click.option("--wait", is_flag=True, help="Kept for DFOS habits: dfos always waits for the cascade to end.")
@click.option("--slots", type=click.IntRange(1, 1024), help="ABs at once (default: SLOTS, else one per core).")
@click.option("--executor", type=ExecutorChoice(),
              help="Where the ABs run (default: EXECUTOR, else local): this machine, Slurm jobs or an HTCondor DAG.")
@pass_cli
def exec_cascade_cmd(cli: Cli, dag_id: str, jobs: Path, wait: bool, slots: int | None, executor: str | None) -> None:
    """Run a cascade (DFOS vultur_exec_cascade); resumes where a killed run stopped.

    On this machine (--executor local, the default), or as batch jobs on Slurm or
    HTCondor: the whole cascade is submitted at once, each job waits for its
    parents, and dfos follows them to the end.  Interrupted (Ctrl-C), dfos leaves
    batch jobs running; the next exec-cascade adopts them.  Exits 0 when every AB
    that can run succeeded, 11 when some failed or were blocked (or still run),
    12 when another executor already runs this cascade.  The cascade of a date
    (MODE_DATE, QC_MODE_DATE) is refused when that mode is certified, moved or
    finished.
    """
    from dfos.steps.todo import check_dag

    check_dag(cli.workspace(), dag_id)
    with cascade_bars() as show:
        result = exec_cascade(cli.workspace(), dag_id, jobs, slots, partial(show, dag_id), executor)
    click.echo(f"{dag_id}: " + (", ".join(f"{v} {k}" for k, v in result.counts.items() if v)
                                 or f"nothing to run ({jobs} lists no AB)"))
    if result.counts.get("submitted") or result.counts.get("running"):
        click.echo(f"{dag_id}: its batch jobs go on; 'dfos exec-cascade --dag-id {dag_id} --jobs {jobs}' "
                   f"follows them again", err=True)
    if not result.ok:
        raise click.exceptions.Exit(ExitCode.CASCADE_FAILED)


@click.command("cascade-stat")
@dag_id_option()
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def cascade_stat_cmd(cli: Cli, dag_id: str, as_json: bool) -> None:
    """Show the state of every AB of a cascade (waiting, running, succeeded, failed, blocked, incomplete).

    An AB that waits for ABs of another cascade, or is blocked, says why; one that took the products of an
    earlier run of its content key instead of running says which AB's.
    """
    rows = cascade_state(cli.workspace(), dag_id)
    if as_json:
        keys = ("ab", "state", "attempts", "exit_code", "wall_s", "reason", "reused_from")
        click.echo(json.dumps({"dag_id": dag_id, "abs": [{k: r[k] for k in keys} for r in rows]}, indent=1))
        return
    for r in rows:
        wall = f"{r['wall_s']:.1f} s" if isinstance(r["wall_s"], float) else "-"
        click.echo(f"{r['state']:<11} {r['ab']}  attempts {r['attempts']}  exit {r['exit_code']}  {wall}"
                   f"  [{r['backend_id'] or '-'}]" + (f"  {r['reason']}" if r["reason"] else "")
                   + (f"  reused from {r['reused_from']}" if r["reused_from"] else ""))


@click.command("stop-cascade")
@dag_id_option()
@click.option("--now", is_flag=True,
              help="Hard abort: kill the running recipes too (Slurm / HTCondor: cancel their jobs); they become "
                   "'cancelled' and run again with 'dfos requeue'.")
@pass_cli
def stop_cascade_cmd(cli: Cli, dag_id: str, now: bool) -> None:
    """Stop a cascade gracefully: nothing new starts, running ABs finish.

    On Slurm the jobs not started yet are cancelled; on HTCondor the DAG is halted
    (DAGMan writes its rescue DAG).  The next exec-cascade goes on from there.
    With --now the running recipes are killed (their process groups; batch jobs
    cancelled through the executor: scancel, an HTCondor DAG halted) and their ABs marked
    'cancelled', not failed: 'dfos requeue' runs them again.
    """
    if now:
        from dfos.steps.todo import stop_now

        cancelled = stop_now(cli.workspace(), dag_id)
        click.echo(f"{dag_id}: stopped now; {len(cancelled.abs)} running AB(s) cancelled"
                   + (f" ({', '.join(cancelled.abs)})" if cancelled.abs else ""))
        return
    request_stop(cli.workspace(), dag_id)
    click.echo(f"{dag_id}: stop requested; running ABs finish, nothing new starts")


@click.command("requeue")
@click.option("-m", "--mode", type=click.Choice(["CALIB", "SCIENCE"], case_sensitive=False), default="CALIB",
              show_default=True)
@date_option()
@click.option("-a", "names", metavar="AB", multiple=True,
              help="Run this AB again (failed or succeeded too); repeat for several.  Default: the cancelled and "
                   "blocked ABs.")
@click.option("--descendants", is_flag=True, help="Run every AB that depends on the chosen ones again too.")
@click.option("--no-run", is_flag=True, help="Only queue them; 'dfos exec-cascade' runs them.")
@pass_cli
def requeue_cmd(cli: Cli, mode: str, day: date, names: tuple[str, ...], descendants: bool, no_run: bool) -> None:
    """Run ABs of DATE's cascade again: the cancelled ones (stop-cascade --now), or those named with -a.

    ABs that succeeded and are not chosen are reused, not run again; the blocked
    ABs behind a chosen one run too, with --descendants every AB behind it.
    """
    from dfos.jobs.model import check_name
    from dfos.steps.todo import requeue

    workspace = cli.workspace()
    try:
        chosen = tuple(check_name(n) for n in names)
    except DfosError as exc:
        raise click.BadParameter(exc.message, param_hint="-a") from None
    dag, queued = requeue(workspace, day, mode, chosen, descendants)
    click.echo(f"{dag}: {len(queued)} AB(s) queued again")
    if no_run:
        return
    with cascade_bars() as show:
        result = exec_cascade(workspace, dag, workspace.job_dir / f"execAB_{dag}", None, partial(show, dag))
    click.echo(f"{dag}: " + ", ".join(f"{v} {k}" for k, v in result.counts.items() if v))
    if not result.ok:
        raise click.exceptions.Exit(ExitCode.CASCADE_FAILED)


@click.command("watch-queue")
@dag_id_option()
@click.option("--once", is_flag=True, help="Print the counts once and return.")
@pass_cli
def watch_queue_cmd(cli: Cli, dag_id: str, once: bool) -> None:
    """Live counts of waiting / running / done / failed ABs, refreshed every second (Ctrl-C ends)."""
    workspace = cli.workspace()
    while True:
        rows = cascade_state(workspace, dag_id)
        counts: dict[str, int] = {}
        for r in rows:
            counts[str(r["state"])] = counts.get(str(r["state"]), 0) + 1
        click.echo(f"{time.strftime('%H:%M:%S')} {dag_id}: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
        if once or not (counts.get("waiting") or counts.get("submitted") or counts.get("running")):
            return
        time.sleep(1.0)


@click.command("fetch-raw")
@date_option()
@click.option("--parallel", type=click.IntRange(1, 64), default=None,
              help="Transfers at once (default DOWNLOAD_SLOTS; 1 for OPSHUB).")
@click.argument("names", nargs=-1, required=True)
@pass_cli
def fetch_raw_cmd(cli: Cli, day: date, parallel: int | None, names: tuple[str, ...]) -> None:
    """Copy raw frames of DATE from the archive into $DFO_RAW_DIR/DATE (verified, atomic)."""
    fetched = fetch_many(cli.workspace(), day, list(names), parallel)
    click.echo(f"{day}: {len(fetched)} raw frame(s) in place")


@click.command("fetch-mcal")
@click.option("--parallel", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Copies at most at once.")
@click.argument("names", nargs=-1, required=True, metavar="DATE/FILE...")
@pass_cli
def fetch_mcal_cmd(cli: Cli, parallel: int, names: tuple[str, ...]) -> None:
    """Copy certified masters back from the archive into $DFO_CAL_DIR (verified, atomic).

    Each NAME is DATE/FILE under $DFO_CAL_DIR, e.g. 2013-02-10/UV_MBIA_130210A_BLUE.fits;
    mcalDown files call this.  Masters already on disk are left as they are.
    """
    fetched = fetch_masters(cli.workspace(), list(names), parallel)
    click.echo(f"{len(fetched)} master(s) in place")
