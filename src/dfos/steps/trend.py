"""Trends and the health check (DFOS trendPlotter + scoreHC), and the QC1 views for scripts.

``dfos trend`` plots one parameter over the last N days up to the newest value (or ``--until``);
``dfos health`` plots every parameter whose threshold says ``health = true`` (one trend per
PRO.CATG), gives each a traffic light from the last ``days`` (default 7) and writes
``$DFO_PLT_DIR/health/health_<INSTRUMENT>.html`` beside the images.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import func, select

from dfos.dates import datetime_to_mjd
from dfos.db import engine_for_url, qc1_params
from dfos.errors import NotFound
from dfos.qc.trend import TrendPoint, health_light, render_trend
from dfos.steps.rejected_inputs import rows_with_rejected_inputs
from dfos.steps.score import thresholds
from dfos.workspace import Workspace

__all__ = ["HealthItem", "health_report", "make_trend", "qc1_by_date", "qc1_by_param", "trend_points"]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def trend_points(workspace: Workspace, param: str, setup: str | None = None, pro_catg: str | None = None,
                 days: int = 30, until: date | None = None) -> list[TrendPoint]:
    """The values of a parameter in the ``days`` before ``until`` (default: its newest value), oldest first."""
    where = [qc1_params.c.name == param, qc1_params.c.value.is_not(None)]
    if setup:
        where.append(qc1_params.c.setup == setup)
    if pro_catg:
        where.append(qc1_params.c.pro_catg == pro_catg)
    with engine_for_url(workspace.db_url).begin() as db:
        if until is None:
            newest = db.execute(select(func.max(qc1_params.c.mjd_obs)).where(*where)).scalar()
            if newest is None:
                return []
            end = float(newest) + 1e-6
        else:
            end = datetime_to_mjd(datetime.combine(until + timedelta(days=1), time(12)))  # a DFO date ends at noon
        start = end - days
        rows = db.execute(select(qc1_params).where(*where, qc1_params.c.mjd_obs >= start, qc1_params.c.mjd_obs < end)
                          .order_by(qc1_params.c.mjd_obs)).mappings().all()
    return [TrendPoint(r["mjd_obs"], r["date"], r["ab"], r["setup"], float(r["value"]), r["score"], r["low"],
                       r["high"]) for r in rows]


def _unit(workspace: Workspace, param: str) -> str:
    with engine_for_url(workspace.db_url).begin() as db:
        return str(db.execute(select(qc1_params.c.unit).where(qc1_params.c.name == param).limit(1)).scalar() or "")


def make_trend(workspace: Workspace, param: str, setup: str | None = None, pro_catg: str | None = None,
               days: int = 30, until: date | None = None, output: Path | None = None) -> tuple[list[Path], int]:
    """Render a trend as PNG and SVG; ``output`` names the PNG (default ``$DFO_PLT_DIR/trends/<param>.png``).
    Returns the files and the number of points."""
    points = trend_points(workspace, param, setup, pro_catg, days, until)
    if not points:
        raise NotFound(f"no values of {param!r}" + (f" for setup {setup!r}" if setup else "")
                        + " in the database; run 'dfos process-qc' first (see 'dfos qc1 -d DATE')")
    base = output or workspace.path("DFO_PLT_DIR") / "trends" / f"{_slug(param)}.png"
    base = base if base.suffix else base.with_suffix(".png")
    title = f"{workspace.settings.INSTRUMENT} {param}" + (f" ({pro_catg})" if pro_catg else "") \
        + f": {points[0].date} to {points[-1].date}"
    return render_trend(points, title, _unit(workspace, param), [base.with_suffix(".png"), base.with_suffix(".svg")]), \
        len(points)


@dataclass(frozen=True)
class HealthItem:
    label: str
    param: str
    pro_catg: str
    light: str
    """green | red | grey over the window."""
    newest: str
    """DFO date of the newest value ('' when none)."""
    points: int
    png: Path


def _catgs(workspace: Workspace, param: str, pattern: str) -> list[str]:
    like = pattern.replace("*", "%").replace("?", "_")
    with engine_for_url(workspace.db_url).begin() as db:
        return list(db.execute(select(qc1_params.c.pro_catg).distinct()
                               .where(qc1_params.c.name == param, qc1_params.c.pro_catg.like(like))
                               .order_by(qc1_params.c.pro_catg)).scalars())


def health_report(workspace: Workspace, days: int = 7, until: date | None = None) -> list[HealthItem]:
    """The health-check trends and lights; writes the images and the HTML page."""
    out = workspace.path("DFO_PLT_DIR") / "health"
    items: list[HealthItem] = []
    seen: set[tuple[str, str]] = set()
    for rule in (t for t in thresholds(workspace) if t.health):
        for catg in _catgs(workspace, rule.param, rule.pro_catg):
            if (rule.param, catg) in seen:
                continue
            seen.add((rule.param, catg))
            points = trend_points(workspace, rule.param, pro_catg=catg, days=max(days, 30), until=until)
            end = max((p.mjd for p in points), default=0.0) if until is None else \
                datetime_to_mjd(datetime.combine(until + timedelta(days=1), time(12)))
            window = [p for p in points if p.mjd > end - days]
            label = f"{rule.label or rule.param} ({catg})"
            png = out / f"{_slug(rule.param)}__{_slug(catg)}.png"
            render_trend(points, f"{workspace.settings.INSTRUMENT} {label}", _unit(workspace, rule.param), [png],
                         window=(end - max(days, 30), end) if end else None,
                         bands=[(rule.low, rule.high)] if rule.method == "fixed" else [])
            items.append(HealthItem(label, rule.param, catg, health_light(window),
                                    window[-1].date if window else "", len(window), png))
    _write_page(workspace, out / f"health_{workspace.settings.INSTRUMENT}.html", items, days)
    return items


def _write_page(workspace: Workspace, path: Path, items: list[HealthItem], days: int) -> None:
    from dfos.fsutil import write_text_atomic

    colours = {"green": "#2e9d3a", "red": "#d62728", "grey": "#9a9a9a"}
    rows = "\n".join(
        f'<tr><td style="background:{colours[i.light]};color:white;font-weight:bold">{i.light.upper()}</td>'
        f"<td>{html.escape(i.label)}</td><td>{html.escape(i.newest)}</td><td>{i.points}</td>"
        f'<td><img src="{html.escape(i.png.name)}" width="600" alt="{html.escape(i.label)}"></td></tr>'
        for i in items)
    write_text_atomic(path, f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{workspace.settings.INSTRUMENT} health check</title></head>
<body><h1>{workspace.settings.INSTRUMENT} health check, last {days} days</h1>
<table border="1" cellpadding="4"><tr><th>light</th><th>trend</th><th>newest</th><th>values</th><th>plot</th></tr>
{rows}
</table></body></html>
""")


_VIEW = ("ab", "batch_id", "product", "pro_catg", "setup", "date", "name", "value", "text", "unit", "score",
         "source")


def qc1_by_date(workspace: Workspace, day: date) -> list[dict[str, object]]:
    """Every parameter of every AB of a date (``dfos qc1 -d DATE``), each with the AB's inputs made by a
    rejected AB (``rejected_inputs``: :func:`~dfos.steps.rejected_inputs.rows_with_rejected_inputs`)."""
    with engine_for_url(workspace.db_url).begin() as db:
        rows = db.execute(select(*(qc1_params.c[c] for c in _VIEW)).where(qc1_params.c.date == day.isoformat())
                          .order_by(qc1_params.c.ab, qc1_params.c.product, qc1_params.c.name)).mappings().all()
    return rows_with_rejected_inputs(workspace, [dict(r) for r in rows])


def qc1_by_param(workspace: Workspace, param: str, since: date) -> list[dict[str, object]]:
    """A parameter's values since a date (``dfos qc1 --param NAME --since DATE``), oldest first, each with
    ``rejected_inputs`` as :func:`qc1_by_date`."""
    with engine_for_url(workspace.db_url).begin() as db:
        rows = db.execute(select(*(qc1_params.c[c] for c in _VIEW))
                          .where(qc1_params.c.name == param, qc1_params.c.date >= since.isoformat())
                          .order_by(qc1_params.c.mjd_obs, qc1_params.c.product)).mappings().all()
    return rows_with_rejected_inputs(workspace, [dict(r) for r in rows])
