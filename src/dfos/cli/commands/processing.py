"""``dfos process-ab``: run one AB with its recipe; ``dfos process-cluster``: run a cluster job's ABs."""

from __future__ import annotations

from pathlib import Path

import click

from dfos.cli.context import Cli, pass_cli
from dfos.errors import ExitCode, UsageError, WorkspaceError
from dfos.steps.run_outcome import Failure

__all__ = ["process_ab_cmd", "process_cluster_cmd"]

#: Exit code of ``process-ab`` when the AB ran and FAILED, or succeeded but its IMPLICIT processQC failed
#: (distinct from operator errors; stderr says which).
FAILED_EXIT = ExitCode.AB_FAILED


@click.command("process-ab")
@click.option("-a", "--ab", "name", required=True, help="The AB to run (a name in $DFO_AB_DIR).")
@click.option("--threads", type=click.IntRange(1, 256), default=1, show_default=True,
              help="OMP_NUM_THREADS for the recipe.")
@click.option("--dag-id", metavar="CASCADE", help="Run it as an attempt of this cascade (what batch jobs do).")
@click.option("--attempt", type=click.IntRange(1, 1000), help="The attempt number (with --dag-id).")
@click.pass_context
@pass_cli
def process_ab_cmd(cli: Cli, ctx: click.Context, name: str, threads: int, dag_id: str | None,
                   attempt: int | None) -> None:
    """Run one AB (DFOS processAB): fetch inputs, run esorex, place products, record the run.

    Exits 0 when the AB succeeded and 10 when it FAILED (the reason is printed
    and stored in the workspace database); 3 when the infrastructure failed
    (a full disk, a refused write): the AB keeps its status, run it again.  With QCBQS_TYPE IMPLICIT processQC
    follows a success; when processQC fails the AB stays SUCCESSFUL, but the
    command exits 10 as well, with 'processQC failed: <why>' on stderr (also in
    the AB's QC log and its run record).  With --dag-id and --attempt (a Slurm or HTCondor job of a
    cascade) the run is recorded as that attempt, in its own working directory,
    exactly as the local executor records it.
    """
    # imported here, the cascade's only when needed: a batch job starts its recipe sooner (benchmarks/startup.py)
    from dfos.steps.process_ab import process_ab, record_run

    workspace = cli.workspace()
    if (dag_id is None) != (attempt is None):
        raise UsageError("--dag-id and --attempt go together")
    if dag_id is not None and attempt is not None:
        from dfos.steps.cascade import run_cascade_ab

        ok, _, message = run_cascade_ab(workspace, name, dag_id, attempt, threads)
        click.echo(f"{name}: {'SUCCESSFUL' if ok else 'FAILED'} (cascade {dag_id}, attempt {attempt})"
                   + (f": {message}" if message else ""), err=not ok)
        if not ok:
            ctx.exit(FAILED_EXIT)
        return
    run = process_ab(workspace, name, threads=threads)
    record_run(workspace, run)
    if run.ok:
        click.echo(f"{run.ab}: SUCCESSFUL in {run.wall_s:.1f} s ({run.recipe}, peak {run.max_rss_kb or 0} kB)")
        from dfos.steps.cascade import implicit_qc

        trouble = implicit_qc(workspace, name)  # QCBQS_TYPE IMPLICIT: QC follows at once
        if trouble:  # the AB stays SUCCESSFUL (a cascade goes on), but this command did not do all it should
            click.echo(f"{run.ab}: SUCCESSFUL, but {trouble}", err=True)
            ctx.exit(FAILED_EXIT)
        return
    if run.failure is Failure.INFRASTRUCTURE:  # not the AB's fault (a full disk, a refused write): it keeps its status
        raise WorkspaceError(f"{run.ab} was not run to the end: {run.message}")
    click.echo(f"{run.ab}: FAILED ({run.failure}) after {run.wall_s:.1f} s: {run.message}", err=True)
    ctx.exit(FAILED_EXIT)


@click.command("process-cluster")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
@pass_cli
def process_cluster_cmd(cli: Cli, ctx: click.Context, manifest: Path) -> None:
    """Run the ABs of a cluster job one after another (what a batch job of several short ABs runs).

    MANIFEST is the cluster's manifest, written by dfos (docs/batch.md, "Clusters"): the cascade, and per AB
    its attempt, threads and parents in the job.  Each AB runs and is recorded exactly as 'process-ab
    --dag-id --attempt' runs it; progress goes to MANIFEST.progress.  Exits 0 when every AB succeeded, 10
    when one failed or was skipped (each AB's own run record says which).
    """
    from dfos.steps.cluster_job import run_cluster

    result = run_cluster(cli.workspace(), manifest)
    click.echo(f"{manifest.name}: {result.ran} ran, {result.failed} failed, {result.skipped} skipped",
               err=not result.ok)
    if not result.ok:
        ctx.exit(FAILED_EXIT)
