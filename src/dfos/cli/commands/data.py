"""Commands that bring data in: demo-data (synthetic nights) and headers (header intake)."""

from __future__ import annotations

from datetime import date

import click

from dfos.cli.context import Cli, pass_cli
from dfos.cli.options import date_option
from dfos.cli.progress import progress_bar
from dfos.steps.demo_data import generate_night
from dfos.steps.headers import extract_headers

__all__ = ["demo_data_cmd", "headers_cmd"]


@click.command("headers")
@date_option()
@pass_cli
def headers_cmd(cli: Cli, day: date) -> None:
    """Extract the headers of every raw frame of DATE from the archive.

    Writes $DFO_HDR_DIR/DATE/<frame>.hdr (one 80-character card per line) and
    $DFO_MON_DIR/list_hdr_DATE, creates $DFO_RAW_DIR/DATE, and appends
    fits_Requested to DFO_STATUS the first time the date is seen.  Templates
    that straddle the 12:00 UT boundary go entirely to the later date.
    """
    workspace = cli.workspace()
    with progress_bar(f"headers {day}") as progress:
        intake = extract_headers(workspace, day, progress)
    click.echo(
        f"{day}: {len(intake.frames)} frames, {intake.written} header(s) written, "
        f"{intake.unchanged} unchanged -> {intake.header_dir}"
    )
    if intake.first_time:
        click.echo(f"{day}: fits_Requested (new date)")
    if intake.problems:
        click.echo(f"{day}: {len(intake.problems)} frame(s) skipped, their headers are unreadable (see warnings)")


@click.command("demo-data")
@click.option("--instrument", metavar="NAME", help="Instrument to simulate (default: the workspace's).")
@date_option(help="DFO date of the synthetic night (YYYY-MM-DD).")
@click.option("--small", is_flag=True, help="Smallest frames the recipes accept (fast; for tests).")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed (same seed, same pixels).")
@pass_cli
def demo_data_cmd(cli: Cli, instrument: str | None, day: date, small: bool, seed: int) -> None:
    """Write a realistic synthetic night of raw frames into the workspace archive.

    Frames are named like archive files (UVES.2013-02-12T18:05:00.500.fits),
    carry full ESO headers that ESO's OCA rules classify as intended, and
    pixels with known bias level, read noise and dark current.  Existing
    frames of the same name are left alone.
    """
    workspace = cli.workspace()
    with progress_bar(f"synthetic {instrument or workspace.settings.INSTRUMENT} night {day}") as progress:
        night = generate_night(workspace, day, instrument=instrument, small=small, seed=seed, progress=progress)
    click.echo(
        f"{night.instrument} {day}: {len(night.frames)} frames ({night.written} new) "
        f"in {night.directory} [{'small' if small else 'full size'}, seed {seed}]"
    )
