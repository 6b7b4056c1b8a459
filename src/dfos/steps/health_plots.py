"""The health page's trends, drawn once and kept (the monitor's ``/health`` and its static export).

Which trends: every parameter and PRO.CATG of a threshold marked ``health = true`` (as ``dfos health``).
The **window** is the last ``days`` days ending at the dfos clock's now (``NOW`` honoured), rounded up to
the full hour: the x axis of every plot is that window, whatever the data span.  A trend's light
(green, red, grey) follows the newest scored value in the window (:func:`~dfos.qc.trend.health_light`).

**The cache.**  A plot is an SVG (:func:`~dfos.qc.svgtrend.trend_svg`) kept in
``$DFO_PLT_DIR/health/cache/<hash>.svg``, where the hash (SHA-256) covers everything drawn: the
values in the window (each value, score, limits, setup, date, AB), the threshold bands, the window,
the title, the unit and the renderer's version.  A request reads the window's values (one query),
hashes them and reads the file: a plot is drawn only when its inputs changed (new or re-scored QC1
values, a changed threshold, the next hour's window) and never twice for the same inputs.  Files are
written atomically (a reader never sees half a plot); plots not used for a day are removed when a new
one is written.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from dfos import clock
from dfos.dates import datetime_to_mjd
from dfos.db import engine_for_url, qc1_params
from dfos.fsutil import write_text_atomic
from dfos.qc.scoring import Threshold, find_threshold
from dfos.qc.svgtrend import Band, trend_svg
from dfos.qc.trend import TrendPoint, health_light
from dfos.steps.score import thresholds
from dfos.workspace import Workspace

__all__ = ["RENDERER", "HealthPlot", "HealthWindow", "cache_dir", "health_plots", "health_window", "trend_svg"]

RENDERER = "svgtrend-1"
"""Part of every plot's hash: change it when the drawing changes, and every plot is drawn again."""
KEEP_SECONDS = 86400.0
"""Cached plots not written for this long are removed when another one is written."""


@dataclass(frozen=True)
class HealthWindow:
    start: datetime
    end: datetime
    days: int

    @property
    def start_mjd(self) -> float:
        return datetime_to_mjd(self.start)

    @property
    def end_mjd(self) -> float:
        return datetime_to_mjd(self.end)


@dataclass(frozen=True)
class HealthPlot:
    label: str
    param: str
    pro_catg: str
    unit: str
    light: str
    """green | red | grey over the window."""
    newest: str
    """DFO date of the newest value in the window ('' when none)."""
    points: int
    red: int
    """Values in the window that scored red."""
    svg: str
    """The plot (an SVG document, to put inline)."""
    key: str
    """The hash of its inputs (its cache file's name)."""


def cache_dir(workspace: Workspace) -> Path:
    return workspace.path("DFO_PLT_DIR") / "health" / "cache"


def health_window(workspace: Workspace, days: int = 7, now: datetime | None = None) -> HealthWindow:
    """The last ``days`` days up to the dfos clock's now, rounded up to the full hour."""
    moment = now or clock.now(workspace.settings)
    end = moment.replace(minute=0, second=0, microsecond=0)
    if end < moment:
        end += timedelta(hours=1)
    return HealthWindow(end - timedelta(days=days), end, days)


@dataclass(frozen=True)
class _Trend:
    rule: Threshold
    param: str
    pro_catg: str
    unit: str


def _trends(workspace: Workspace, rules: Sequence[Threshold]) -> list[_Trend]:
    """The (parameter, PRO.CATG) pairs of the health rules that have values, in the rules' order."""
    names = sorted({r.param for r in rules})
    with engine_for_url(workspace.db_url).begin() as db:
        pairs = db.execute(select(qc1_params.c.name, qc1_params.c.pro_catg, func.max(qc1_params.c.unit))
                           .where(qc1_params.c.name.in_(names))
                           .group_by(qc1_params.c.name, qc1_params.c.pro_catg)).all()
    found: list[_Trend] = []
    seen: set[tuple[str, str]] = set()
    for rule in rules:
        for name, catg, unit in sorted(pairs, key=lambda row: (row[0], row[1])):
            if name == rule.param and fnmatch.fnmatchcase(catg, rule.pro_catg) and (name, catg) not in seen:
                seen.add((name, catg))
                found.append(_Trend(rule, name, catg, str(unit or "")))
    return found


def _window_points(workspace: Workspace, names: Sequence[str],
                   window: HealthWindow) -> dict[tuple[str, str], list[TrendPoint]]:
    """The values of the window, per (parameter, PRO.CATG), oldest first: one query."""
    c = qc1_params.c
    with engine_for_url(workspace.db_url).begin() as db:
        rows = db.execute(select(c.name, c.pro_catg, c.mjd_obs, c.date, c.ab, c.setup, c.value, c.score, c.low, c.high)
                          .where(c.name.in_(list(names)), c.value.is_not(None), c.mjd_obs >= window.start_mjd,
                                 c.mjd_obs <= window.end_mjd)
                          .order_by(c.mjd_obs, c.id)).all()
    found: dict[tuple[str, str], list[TrendPoint]] = {}
    for r in rows:
        found.setdefault((r.name, r.pro_catg), []).append(
            TrendPoint(float(r.mjd_obs), r.date, r.ab, r.setup, float(r.value), r.score, r.low, r.high))
    return found


def _bands(every: Sequence[Threshold], trend: _Trend, points: Sequence[TrendPoint]) -> list[Band]:
    """The thresholds that score the trend's values: a fixed threshold's limits over the window; for a
    ``stat`` one the limits each value was scored against, around that value."""
    bands: list[Band] = []
    for setup in sorted({p.setup for p in points}) or ["*"]:
        rule = find_threshold(every, trend.param, trend.pro_catg, setup)
        if rule is not None and rule.method == "fixed" and Band(rule.low, rule.high) not in bands:
            bands.append(Band(rule.low, rule.high))
    series = [p for p in points if (p.low is not None or p.high is not None)
              and (find_threshold(every, trend.param, trend.pro_catg, p.setup) or trend.rule).method == "stat"]
    for index, p in enumerate(series):
        before = series[index - 1].mjd if index else None
        after = series[index + 1].mjd if index + 1 < len(series) else None
        bands.append(Band(p.low, p.high, (p.mjd + before) / 2 if before is not None else None,
                          (p.mjd + after) / 2 if after is not None else None))
    return bands


def _key(title: str, unit: str, window: HealthWindow, points: Sequence[TrendPoint], bands: Sequence[Band]) -> str:
    document = [RENDERER, title, unit, window.start_mjd, window.end_mjd,
                [[p.mjd, p.value, p.score, p.low, p.high, p.setup, p.date, p.ab] for p in points],
                [[b.low, b.high, b.start, b.end] for b in bands]]
    return hashlib.sha256(json.dumps(document, allow_nan=True).encode()).hexdigest()[:40]


def _cached_svg(workspace: Workspace, key: str, draw: tuple[Sequence[TrendPoint], Sequence[Band], float, float,
                                                             str, str]) -> str:
    """The plot of ``key`` from the cache, or drawn now and kept."""
    path = cache_dir(workspace) / f"{key}.svg"
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):  # not drawn yet (or unreadable: drawn again)
        pass
    svg = trend_svg(*draw)
    try:
        write_text_atomic(path, svg, durable=False)  # derived: drawn again if a crash loses it
        _forget_old(path.parent, keep=path)
    except OSError:  # a read-only plot directory: the page is shown, drawn each time
        pass
    return svg


def _forget_old(directory: Path, keep: Path) -> None:
    limit = (clock.system_now() - datetime(1970, 1, 1)).total_seconds() - KEEP_SECONDS  # file times are real
    for old in directory.glob("*.svg"):
        try:
            if old != keep and old.stat().st_mtime < limit:
                old.unlink()
        except FileNotFoundError:
            continue


def health_plots(workspace: Workspace, days: int = 7, now: datetime | None = None) -> tuple[HealthWindow,
                                                                                            list[HealthPlot]]:
    """The window and its health trends, each plot from the cache or drawn once (see the module)."""
    window = health_window(workspace, days, now)
    every = thresholds(workspace)
    rules = [t for t in every if t.health]
    if not rules:
        return window, []
    trends = _trends(workspace, rules)
    by_pair = _window_points(workspace, sorted({t.param for t in trends}), window) if trends else {}
    plots = []
    for trend in trends:
        points = by_pair.get((trend.param, trend.pro_catg), [])
        bands = _bands(every, trend, points)
        label = f"{trend.rule.label or trend.param} ({trend.pro_catg})"
        title = f"{workspace.settings.INSTRUMENT} {label}"
        key = _key(title, trend.unit, window, points, bands)
        svg = _cached_svg(workspace, key, (points, bands, window.start_mjd, window.end_mjd, title, trend.unit))
        plots.append(HealthPlot(label, trend.param, trend.pro_catg, trend.unit, health_light(points),
                                points[-1].date if points else "", len(points),
                                sum(1 for p in points if p.score == 1), svg, key))
    return window, plots

