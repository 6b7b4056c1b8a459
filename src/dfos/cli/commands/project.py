"""``dfos project``: OPSHUB projects (DFOS distillery): create one, run it, list them (docs/opshub.md)."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from dfos.cli.context import Cli, pass_cli
from dfos.workspace import Workspace

__all__ = ["project_group"]


@click.group("project")
def project_group() -> None:
    """OPSHUB projects: science dates whose calibrations come from any date, processed in one cascade.

    Run the commands in an instrument's workspace of an OPSHUB root (DIR/NACO), or at the root
    itself (--root DIR, DFOS_ROOT=DIR, or DIR as the current directory): --instrument then chooses
    the workspace.
    """


def _base(cli: Cli) -> Path:
    """Where the command runs: --root, $DFOS_ROOT or the current directory."""
    import os

    return cli.root or (Path(cli.env["DFOS_ROOT"]) if cli.env.get("DFOS_ROOT") else Path(os.getcwd()))


def _workspace(cli: Cli, instrument: str | None, name: str | None = None) -> Workspace:
    """The workspace a project command acts on: the instrument's own under an OPSHUB root (``instrument``, or
    the one holding project ``name``), else the workspace found as usual."""
    from dfos.errors import UsageError
    from dfos.instruments.registry import get_instrument
    from dfos.steps.opshub import CONF, hub_instruments, project_dir
    from dfos.workspace import CONFIG_FILE, read_workspace

    base = _base(cli)
    served = hub_instruments(base)
    if not served:
        return cli.workspace()
    if instrument is None and name is not None:
        holding = [i for i in served if (base / i / CONFIG_FILE).is_file()
                   and (project_dir(read_workspace(base / i), name) / CONF).is_file()]
        instrument = holding[0] if len(holding) == 1 else None
    if instrument is None:
        raise UsageError(f"{base} is an OPSHUB root serving {', '.join(served)}: choose one with --instrument")
    wanted = get_instrument(instrument).name
    if wanted not in served:
        raise UsageError(f"the OPSHUB root {base} serves {', '.join(served)}, not {wanted}: "
                         f"'dfos init {base} --flavour opshub --instrument {wanted}' adds it")
    return Cli(root=base / wanted, overrides=cli.overrides, env=cli.env).workspace()


@project_group.command("create")
@click.argument("name")
@click.option("--instrument", "instrument", required=True, metavar="NAME", help="The project's instrument.")
@click.option("--dates", "dates", metavar="D1,D2,...", help="The science dates (YYYY-MM-DD), comma-separated.")
@click.option("--science-list", "science_list", type=click.Path(path_type=Path, dir_okay=False),
              help="A file: one DFO date or one science raw file name (NACO.2013-02-12T01:20:00.000.fits) a line; "
                   "'#' starts a comment.  A file name adds its date and narrows that date's science to the ABs "
                   "that read a named file.")
@pass_cli
def create_cmd(cli: Cli, name: str, instrument: str, dates: str | None, science_list: Path | None) -> None:
    """Create an OPSHUB project: its science dates, in $DFO_MON_DIR/PROJECTS/NAME/project.conf.

    NAME: a letter, then letters, digits and _ - . + (not a date or a run ID).  Give the science dates with
    --dates or --science-list (one of them).  Creating a project again with the same dates is harmless;
    with other dates it is refused.  'dfos project run NAME' processes it.
    """
    from dfos.dates import parse_date
    from dfos.errors import FormatError, InvalidDate, UsageError
    from dfos.fsutil import read_utf8
    from dfos.steps.opshub import create_project, parse_science_list, project_name

    project_name(name)  # a bad name is refused before anything is opened
    if (dates is None) == (science_list is None):
        raise UsageError("give the science dates with one of --dates D1,D2,... or --science-list FILE")
    days: list[date] = []
    files: list[str] = []
    workspace = _workspace(cli, instrument)
    if dates is not None:
        try:
            days = [parse_date(d.strip()) for d in dates.split(",") if d.strip()]
        except InvalidDate as exc:
            raise UsageError(f"--dates: {exc.message}") from None
    else:
        assert science_list is not None
        try:
            text = read_utf8(science_list)
        except FileNotFoundError:
            raise UsageError(f"--science-list: no file {science_list}") from None
        try:
            days, files = parse_science_list(text, str(science_list), workspace.settings.DFO_OFFSET)
        except FormatError as exc:
            raise UsageError(f"--science-list: {exc.message}") from None
    project = create_project(workspace, name, instrument, days, files)
    click.echo(f"project {project.name} ({project.instrument}): science dates "
               f"{', '.join(d.isoformat() for d in project.dates)}"
               + (f", {len(project.files)} named science file(s)" if project.files else "")
               + f"; next: dfos project run {project.name}")


@project_group.command("run")
@click.argument("name")
@click.option("--instrument", "instrument", metavar="NAME", help="At an OPSHUB root: the project's instrument "
                                                                 "(found by itself when one instrument has it).")
@click.option("--jobs-only", is_flag=True, help="Associate and write the execution files, run nothing.")
@pass_cli
def run_cmd(cli: Cli, name: str, instrument: str | None, jobs_only: bool) -> None:
    """Process an OPSHUB project: its science and the calibrations it needs, from any date, in one cascade.

    The headers of the science dates and of the archive's dates within PROJECT_CALIB_DAYS of them; createAB
    CALIB on each, createAB SCIENCE on the science dates; the project's ABs are its science and the CALIB
    ABs that make what it takes (and what those take).  One cascade PROJECT_NAME runs them, calibrations
    first through the dependencies, at most MAX_JOBS at once (DRS_TYPE CON).  Every raw file is downloaded,
    one at a time, a dot per file; FULL_RAWDOWNLOAD=yes waits for all of them before processing.  Then QC.
    Exit 11 when ABs failed or were blocked.
    """
    from dfos.cli.progress import cascade_bars
    from dfos.errors import ExitCode
    from dfos.steps.opshub import project_name, run_project

    project_name(name)
    workspace = _workspace(cli, instrument, name)
    dots = _Dots()
    with cascade_bars() as show:
        result = run_project(workspace, name, click.echo, dots, show, jobs_only=jobs_only)
    if not result.ok:
        raise click.exceptions.Exit(ExitCode.CASCADE_FAILED)


class _Dots:
    """OPSHUB's download progress monitor: the number of files, then a dot per file downloaded (stderr)."""

    def __init__(self) -> None:
        self.started = False

    def __call__(self, done: int, total: int) -> None:
        if not self.started:
            self.started = True
            sys.stderr.write(f"raw files: {total} to download, one at a time: ")
        sys.stderr.write(".")
        if done == total:
            sys.stderr.write(f" {done}/{total}\n")
        sys.stderr.flush()


@project_group.command("list")
@click.option("--instrument", "instrument", metavar="NAME", help="At an OPSHUB root: the instrument.")
@pass_cli
def list_cmd(cli: Cli, instrument: str | None) -> None:
    """List the projects: name, instrument, science dates, ABs recorded by the last run.  At an OPSHUB root
    without --instrument, the projects of every instrument it serves."""
    from dfos.steps.opshub import hub_instruments

    base = _base(cli)
    served = hub_instruments(base) if instrument is None else []
    workspaces = ([Cli(root=base / i, overrides=cli.overrides, env=cli.env).workspace() for i in served] if served
                  else [_workspace(cli, instrument)])
    for workspace in workspaces:
        _list_projects(workspace)


def _list_projects(workspace: Workspace) -> None:
    from dfos.steps.opshub import load_project, project_abs, projects

    for name in projects(workspace):
        project = load_project(workspace, name)
        abs_ = project_abs(workspace, name)
        click.echo(f"{name}  {project.instrument}  {' '.join(d.isoformat() for d in project.dates)}  "
                   f"{sum(m.value == 'CALIB' for m, _, _ in abs_)} CALIB, "
                   f"{sum(m.value == 'SCIENCE' for m, _, _ in abs_)} SCIENCE AB(s)")
