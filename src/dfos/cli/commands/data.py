"""Commands that bring data in: demo-data (synthetic nights) and headers (header intake)."""

from __future__ import annotations

from datetime import date, timedelta

import click

from dfos.cli.context import Cli, pass_cli
from dfos.cli.options import date_option
from dfos.cli.progress import progress_bar
from dfos.instruments.registry import get_instrument
from dfos.steps.demo_data import generate_night, write_demo_headers
from dfos.steps.headers import extract_headers
from dfos.steps.static_calib import gen_dir, install_static

__all__ = ["demo_data_cmd", "headers_cmd"]


@click.command("headers")
@date_option()
@pass_cli
def headers_cmd(cli: Cli, day: date) -> None:
    """Extract the headers of every raw frame of DATE from the archive.

    Writes $DFO_HDR_DIR/DATE/<frame>.hdr (one 80-character card per line) and
    $DFO_MON_DIR/list_hdr_DATE, creates $DFO_RAW_DIR/DATE, and appends
    fits_Requested to DFO_STATUS the first time the date is seen.  Templates
    that straddle the 12:00 UT boundary go entirely to the later date.  A frame
    whose header is unreadable or whose ARCFILE is not a safe file name is
    refused with a warning and listed in $DFO_MON_DIR/headers_DATE.log; the
    others go on.  No frame of DATE in the archive: exit 2.
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
        names = ", ".join(name for name, _ in intake.problems)
        click.echo(f"{day}: {len(intake.problems)} frame(s) refused: {names} (reasons in {intake.log})")


@click.command("demo-data")
@click.option("--instrument", metavar="NAME", help="Instrument to simulate (default: the workspace's).")
@date_option(help="DFO date of the (first) synthetic night (YYYY-MM-DD).")
@click.option("--days", type=click.IntRange(1, 3660), default=1, show_default=True,
              help="Nights to write, DATE and the ones after it.")
@click.option("--small", is_flag=True, help="Smallest frames the recipes accept (fast; for tests).")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed (same seed, same pixels).")
@click.option("--only", "only", multiple=True, metavar="CATEGORY",
              help="Only templates of this category (e.g. BIAS_BLUE); repeat for more.")
@click.option("--bias-drift", type=float, default=0.0, show_default=True,
              help="ADU the injected bias level rises per night (for trend plots).")
@click.option("--batches", type=click.IntRange(1, 100), default=None,
              help="Release the night in N parts: each call writes the next part (a growing night).")
@click.option("--headers", "headers_only", is_flag=True,
              help="Headers only, straight into $DFO_HDR_DIR/DATE (NACO, HAWKI, MUSE, VIMOS, VISIR, AMBER): "
                   "frames createAB classifies and associates, that cannot be processed.")
@pass_cli
def demo_data_cmd(cli: Cli, instrument: str | None, day: date, days: int, small: bool, seed: int,
                  only: tuple[str, ...], bias_drift: float, batches: int | None, headers_only: bool) -> None:
    """Write realistic synthetic nights of raw frames into the workspace archive.

    Frames are named like archive files (UVES.2013-02-12T18:05:00.500.fits),
    carry full ESO headers that ESO's OCA rules classify as intended, and
    pixels with known bias level, read noise and dark current.  Existing
    frames of the same name are left alone.  With --days N and --bias-drift X,
    night k has its bias level raised by k * X ADU.
    """
    workspace = cli.workspace()
    if headers_only:
        for k in range(days):
            night_day = day + timedelta(days=k)
            written = write_demo_headers(workspace, night_day, instrument)
            click.echo(f"{instrument or workspace.settings.INSTRUMENT} {night_day}: {len(written)} synthetic headers "
                       f"in {written[0].parent if written else workspace.hdr_dir} (headers only: "
                       f"'dfos create-ab -d {night_day}' classifies and associates them)")
        return
    for k in range(days):
        night_day = day + timedelta(days=k)
        with progress_bar(f"synthetic {instrument or workspace.settings.INSTRUMENT} night {night_day}") as progress:
            night = generate_night(workspace, night_day, instrument=instrument, small=small, seed=seed + k,
                                   progress=progress, only=only or None, bias_shift=k * bias_drift, batches=batches)
        part = f", batch {night.batch} of {batches}" if night.batch is not None else ""
        click.echo(
            f"{night.instrument} {night_day}: {len(night.frames)} frames ({night.written} new{part}) "
            f"in {night.directory} [{'small' if small else 'full size'}, seed {seed + k}]"
        )
    static = install_static(workspace, get_instrument(instrument or workspace.settings.INSTRUMENT))
    for name in static.installed:
        click.echo(f"static calibration {name} -> {gen_dir(workspace)}")
