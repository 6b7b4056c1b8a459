"""``dfos compare A B``: do two workspaces' results agree (ESO's muc_compare)?"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from dfos.cli.options import DFO_DATE, PROCESSING_KEY
from dfos.cli.progress import progress_bar
from dfos.errors import ExitCode, UsageError, WorkspaceError
from dfos.fsutil import write_text_atomic
from dfos.keys import ProcessingKey

__all__ = ["compare_cmd"]


@click.command("compare")
@click.argument("a", type=click.Path(path_type=Path, file_okay=False))
@click.argument("b", type=click.Path(path_type=Path, file_okay=False))
@click.option("-d", "--date", "day", type=PROCESSING_KEY, help="Compare this DFO date (or run ID) only.")
@click.option("--since", type=DFO_DATE, help="Compare every DFO date from this one on.")
@click.option("-m", "--mode", type=click.Choice(["CALIB", "SCIENCE"], case_sensitive=False),
              help="Compare this mode only (default: both).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text", show_default=True,
              help="The report's form.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the report to this file (default: standard output).")
@click.option("--tolerances", type=click.Path(path_type=Path, dir_okay=False),
              help="Tolerance file (TOML; default: A's, else B's $DFO_CONFIG_DIR/compare_tolerances.toml, "
                   "else rel 1e-6 / abs 1e-9).")
def compare_cmd(a: Path, b: Path, day: date | ProcessingKey | None, since: date | None, mode: str | None, fmt: str,
                output: Path | None, tolerances: Path | None) -> None:
    """Compare the results of two workspaces A and B (roots), read-only on both sides.

    Per DFO date and mode: the ABs (the same set; per AB its raw files,
    calibrations, SOF, recipe and parameters, paths compared as written), the
    products (the same PRO.CATG set; mean, median, rms of each and the largest
    pixel difference), QC1 parameters within their tolerance, scores and
    certification decisions.  Differences are listed most important first:
    missing > processing > qc1 > pixels > score > certification.

    Exit status 0: A and B agree within tolerance; 15: they differ (the report
    says where).  The tolerance file and the JSON keys: docs/migration.md.
    """
    from dfos.steps.compare import compare_workspaces, render_html, render_text
    from dfos.workspace import read_workspace

    if day is not None and since is not None:
        raise UsageError("give -d DATE or --since DATE, not both")
    if output is not None and _inside(output, (a, b)):
        raise UsageError(f"{output} lies inside a compared workspace; compare writes into neither")
    left, right = read_workspace(a), read_workspace(b)
    if left.root == right.root:
        raise WorkspaceError(f"A and B are the same workspace ({left.root})")
    keys = [str(ProcessingKey.of(day))] if day is not None else None
    with progress_bar("compare") as bar:
        report = compare_workspaces(left, right, keys=keys, since=since, mode=mode, tolerances=tolerances,
                                    progress=bar)
    if not any(n for what, n in report.counts if what == "ABs") and report.agree:
        click.echo(f"Warning: nothing compared: no AB of {'these keys' if report.keys else 'any key'} on either "
                   "side (check A, B, -d, --since and -m)", err=True)
    text = json.dumps(report.to_dict(), indent=1) + "\n" if fmt == "json" else \
        render_html(report) if fmt == "html" else render_text(report)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_text_atomic(output, text)
        click.echo(report_line(report.agree, str(output)))
    if not report.agree:
        raise click.exceptions.Exit(ExitCode.DIFFER)


def report_line(agree: bool, where: str) -> str:
    return f"{'agree' if agree else 'DIFFER'}: report in {where}"


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    target = path.expanduser().resolve()
    return any(target.is_relative_to(root.expanduser().resolve()) for root in roots)
