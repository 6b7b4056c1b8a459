"""``dfos process-qc``, ``score``, ``qc1``, ``trend``, ``health``: quality control from the command line."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from dfos.cli.context import Cli, pass_cli
from dfos.cli.options import DFO_DATE, date_option
from dfos.errors import UsageError
from dfos.steps.process_qc import process_qc
from dfos.steps.score import score_date
from dfos.steps.trend import health_report, make_trend, qc1_by_date, qc1_by_param

__all__ = ["health_cmd", "process_qc_cmd", "qc1_cmd", "score_cmd", "trend_cmd"]


@click.command("process-qc")
@click.option("-a", "--ab", "name", required=True, help="The AB whose products to measure.")
@pass_cli
def process_qc_cmd(cli: Cli, name: str) -> None:
    """Measure an AB's products (DFOS processQC): QC1 parameters, QC procedures, plots, scores.

    QC1 keywords of the product headers and PAF files, the QC procedures of the
    instrument, all stored in the workspace database (a re-run replaces them),
    then scored; an AB with every score green is certified automatically.
    """
    result = process_qc(cli.workspace(), name)
    verdict = result.score.verdicts.get(result.ab, "grey")
    summary = result.score.summaries.get(result.ab, "0/0")
    click.echo(f"{result.ab}: {result.n_params} QC1 parameters of {len(result.products)} products; "
               f"score {summary} red/scored ({verdict})"
               + ("; certified automatically" if result.ab in result.score.certified else ""))


@click.command("score")
@date_option()
@pass_cli
def score_cmd(cli: Cli, day: date) -> None:
    """Score every AB of DATE again (DFOS scoreQC), e.g. after a threshold change.

    Thresholds: $DFO_CONFIG_DIR/thresholds_<INSTRUMENT>.toml, else the ones dfos ships.
    """
    result = score_date(cli.workspace(), day)
    if not result.abs:
        raise UsageError(f"no AB of {day} has QC yet; run 'dfos process-qc -a AB' first")
    for name in result.abs:
        note = " (certified automatically)" if name in result.certified else \
            " (automatic certification withdrawn)" if name in result.withdrawn else ""
        click.echo(f"{result.verdicts[name]:<6} {result.summaries[name]:>6}  {name}{note}")


@click.command("qc1")
@date_option(required=False, help="Every parameter of every AB of this DFO date.")
@click.option("--param", help="One parameter (e.g. 'QC BIAS LEVEL') ...")
@click.option("--since", type=DFO_DATE, help="... from this DFO date on.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list of rows) for scripts.")
@pass_cli
def qc1_cmd(cli: Cli, day: date | None, param: str | None, since: date | None, as_json: bool) -> None:
    """QC1 parameters from the workspace database: by date (-d) or one parameter over time.

    Columns: date, AB, PRO.CATG, name, value, unit, score (0 green, 1 red,
    empty: not scored), source, and, for an AB processed with an input that a
    rejected AB made (directly or upstream), 'REJECTED INPUT' and the reason.
    JSON rows also carry the batch, product, setup and 'rejected_inputs'.
    """
    if (day is None) == (param is None):
        raise UsageError("give either -d DATE or --param NAME --since DATE")
    if param is not None and since is None:
        raise UsageError("--param needs --since DATE")
    workspace = cli.workspace()
    rows = qc1_by_date(workspace, day) if day is not None else qc1_by_param(workspace, str(param), since)  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    for r in rows:
        score = "" if r["score"] is None else str(r["score"])
        shown = r["text"] if r["value"] is None else f"{r['value']:.6g}"
        items = r["rejected_inputs"]
        rejected = "; ".join(str(item["reason"]) for item in items) if isinstance(items, list) else ""
        click.echo(f"{r['date']}  {r['ab']}  {r['pro_catg']:<18} {r['name']:<28} {shown:>14} {r['unit']:<8} "
                   f"{score:>1}  {r['source']}" + (f"  REJECTED INPUT: {rejected}" if rejected else ""))
    if not rows:
        click.echo("no QC1 parameters", err=True)


@click.command("trend")
@click.option("--param", required=True, help="The QC1 parameter, e.g. 'QC BIAS LEVEL'.")
@click.option("--setup", help="Only this setup (as 'dfos qc1' shows it).")
@click.option("--pro-catg", help="Only this PRO.CATG.")
@click.option("--days", type=click.IntRange(1, 36500), default=30, show_default=True, help="Days back.")
@click.option("--until", type=DFO_DATE, help="Last DFO date shown (default: the newest value).")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="PNG to write (an SVG is written beside it); default $DFO_PLT_DIR/trends/<param>.png.")
@pass_cli
def trend_cmd(cli: Cli, param: str, setup: str | None, pro_catg: str | None, days: int, until: date | None,
              output: Path | None) -> None:
    """Plot a QC1 parameter over time (DFOS trendPlotter): points coloured by score, limits dashed."""
    files, points = make_trend(cli.workspace(), param, setup, pro_catg, days, until, output)
    for path in files:
        click.echo(str(path))
    click.echo(f"{points} values", err=True)


@click.command("health")
@click.option("--days", type=click.IntRange(1, 366), default=7, show_default=True,
              help="Window of the traffic lights.")
@click.option("--until", type=DFO_DATE, help="Last DFO date of the window (default: the newest value).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_cli
def health_cmd(cli: Cli, days: int, until: date | None, as_json: bool) -> None:
    """The health check: key trends with a traffic light each (a newer green overrides an older red).

    Key trends are the thresholds marked 'health = true'; the page is
    $DFO_PLT_DIR/health/health_<INSTRUMENT>.html.
    """
    items = health_report(cli.workspace(), days, until)
    if as_json:
        click.echo(json.dumps([{"trend": i.label, "param": i.param, "pro_catg": i.pro_catg, "light": i.light,
                                "newest": i.newest, "values": i.points, "png": str(i.png)} for i in items], indent=1))
        return
    for i in items:
        click.echo(f"{i.light.upper():<6} {i.label:<45} newest {i.newest or '-':<10} {i.points:>3} values")
    if not items:
        click.echo("no health-check trends yet (no QC1 values of parameters marked 'health = true')", err=True)
