"""``dfos shadow``: a new installation processes what its reference processes, and compares (docs/migration.md)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from dfos.cli.context import Cli, pass_cli
from dfos.cli.options import DFO_DATE

__all__ = ["shadow_cmd"]


@click.command("shadow")
@click.option("--reference", "reference", type=click.Path(path_type=Path, file_okay=False),
              help="The installation this one shadows (its workspace root; only read). Remembered after the "
                   "first run.")
@click.option("--since", type=DFO_DATE, help="The transition date: shadow the reference's dates from this one on "
                                             "(first run; default: its newest processed date).")
@click.option("-d", "dates", type=DFO_DATE, multiple=True,
              help="Compare this date again (repeatable), e.g. after a fix; it is processed only if not yet.")
@click.option("--status", "status_only", is_flag=True, help="Only show the phases and the compared dates.")
@pass_cli
def shadow_cmd(cli: Cli, reference: Path | None, since: date | None, dates: tuple[date, ...],
               status_only: bool) -> None:
    """Process every date the reference installation processes, here, and compare each (shadow mode).

    Each DFO date the reference has processed (cal_QC in its DFO_STATUS, before today, from the
    transition date on) is processed here as autoDaily would (no certification, no moving, no
    ingestion), then compared with the reference (dfos compare).  The reference is never written.
    Reports: $DFO_MON_DIR/SHADOW/compare_<DATE>.txt|json|html; the monitor's migration page shows the
    phases.  When SHADOW_READY_DATES dates in a row agree, 'dfos cron install --apply' moves the
    autoDaily line here.  Exit 0 when every date compared now agrees, else compare's exit status.
    """
    from dfos.steps.shadow import phases, read_state, reference_root_of, shadow

    workspace = cli.workspace()
    if not status_only:
        root = reference or reference_root_of(workspace)
        if root is None:
            raise click.UsageError("name the installation to shadow: --reference OLD (its workspace root)")
        result = shadow(workspace, root, since=since, dates=dates, say=click.echo)
        state = result.state
    else:
        state = read_state(workspace)
    for phase in phases(state, baseline=(workspace.root / ".migrate").is_dir(), here=str(workspace.root)):
        click.echo(f"[{'x' if phase.state == 'done' else '>' if phase.state == 'current' else ' '}] "
                   f"{phase.name:<13} {phase.detail}   ({phase.command})")
    if state.ready and not state.took_over:
        click.echo("ready to take over: run 'dfos cron install --apply' here to move the autoDaily line")
    if not status_only and not result.agree:
        from dfos.errors import ExitCode

        raise click.exceptions.Exit(ExitCode.DIFFER)
