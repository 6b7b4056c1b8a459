"""``dfos create-ab`` and ``dfos explain``."""

from __future__ import annotations

from datetime import date

import click

from dfos.cli.context import Cli, pass_cli
from dfos.cli.options import date_option
from dfos.keys import Mode
from dfos.steps.create_ab import create_abs, explain_text

__all__ = ["create_ab_cmd", "explain_cmd"]

MODE = click.option("-m", "--mode", type=click.Choice([m.value for m in Mode], case_sensitive=False),
                    default=Mode.CALIB.value, show_default=True, callback=lambda _c, _p, value: Mode.parse(value),
                    help="Which raw frames to associate.")


@click.command("create-ab")
@MODE
@date_option()
@pass_cli
def create_ab_cmd(cli: Cli, mode: Mode, day: date) -> None:
    """Create the Association Blocks of DATE from its headers (DFOS createAB).

    Classifies and groups the headers in $DFO_HDR_DIR/DATE with the OCA rules,
    associates calibrations from the calibration memory (MCAL, VCAL) and this
    night's virtual products, and writes the ABs to $DFO_AB_DIR, virtual product
    headers to $DFO_CAL_DIR/VCAL/DATE, AB_list_MODE_DATE and cal_AB (sci_AB).
    Re-running it updates only what changed; ABs tagged DONE are never touched.
    A frame or AB whose name from data is not a safe file name (ARCFILE
    '../../etc/passwd') is refused with a warning; the others go on.
    """
    result = create_abs(cli.workspace(), day, mode)
    incomplete = [ab for ab in result.abs if ab.completeness.value == "INCOMPLETE"]
    click.echo(f"{result.mode} {day}: {len(result.abs)} ABs ({len(incomplete)} INCOMPLETE); "
               f"{len(result.written)} written, {len(result.unchanged)} unchanged, "
               f"{len(result.kept_done)} DONE kept, {len(result.removed)} removed")
    if result.skipped:
        click.echo(f"{len(result.skipped)} certified masters not associated (a raw2raw window, or hidden by a "
                   "release: 'dfos release status'; 'dfos explain AB' names them)")
    for ab in result.abs:
        parents = f"  <- {', '.join(ab.waitfor)}" if ab.waitfor else ""
        click.echo(f"  {ab.completeness.value:<10} {ab.name}  {ab.recipe}{parents}")
    for name, reason in result.orphans:
        click.echo(f"  orphan     {name}: {reason}")
    for name, reason in result.problems:
        click.echo(f"Warning: {name}: skipped: {reason}", err=True)
    for name, reason in result.refused:
        click.echo(f"Warning: {name}: refused: {reason}", err=True)


@click.command("explain")
@click.argument("ab")
@pass_cli
def explain_cmd(cli: Cli, ab: str) -> None:
    """Explain an AB's association: every input, every candidate, every missing piece."""
    click.echo(explain_text(cli.workspace(), ab), nl=False)
