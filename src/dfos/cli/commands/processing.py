"""``dfos process-ab``: run one AB with its recipe."""

from __future__ import annotations

import click

from dfos.cli.context import Cli, pass_cli
from dfos.steps.cascade import implicit_qc
from dfos.steps.process_ab import process_ab, record_run

__all__ = ["process_ab_cmd"]

#: Exit code of ``process-ab`` when the AB ran and FAILED (distinct from operator errors).
FAILED_EXIT = 10


@click.command("process-ab")
@click.option("-a", "--ab", "name", required=True, help="The AB to run (a name in $DFO_AB_DIR).")
@click.option("--threads", type=click.IntRange(1, 256), default=1, show_default=True,
              help="OMP_NUM_THREADS for the recipe.")
@click.pass_context
@pass_cli
def process_ab_cmd(cli: Cli, ctx: click.Context, name: str, threads: int) -> None:
    """Run one AB (DFOS processAB): fetch inputs, run esorex, place products, record the run.

    Exits 0 when the AB succeeded and 10 when it FAILED (the reason is printed
    and stored in the workspace database).  With QCBQS_TYPE IMPLICIT processQC
    follows a success.
    """
    workspace = cli.workspace()
    run = process_ab(workspace, name, threads=threads)
    record_run(workspace, run)
    if run.ok:
        click.echo(f"{run.ab}: SUCCESSFUL in {run.wall_s:.1f} s ({run.recipe}, peak {run.max_rss_kb or 0} kB)")
        trouble = implicit_qc(workspace, name)  # QCBQS_TYPE IMPLICIT: QC follows at once
        if trouble:
            click.echo(f"{run.ab}: {trouble}", err=True)
        return
    click.echo(f"{run.ab}: FAILED ({run.failure}) after {run.wall_s:.1f} s: {run.message}", err=True)
    ctx.exit(FAILED_EXIT)
