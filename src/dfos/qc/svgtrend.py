"""A trend plot as a small SVG document, drawn without matplotlib (pure: text in, text out).

The health page shows many trends at once; matplotlib takes 100-200 ms a plot, this takes about a
millisecond, and its output is plain markup a page can hold inline.  What it draws:

* the **window** as the x axis: ``start`` to ``end`` (MJD) whatever the data span, so one point is
  drawn at its date inside the window; the axis carries ``data-x0``/``data-x1`` (the window, MJD);
* the **threshold bands**: the range a value must stay in (a translucent green ``rect.band``, with
  its limits as red dashed ``line.limit``), over the whole window (fixed limits) or per point (the
  limits each point was scored against, ``stat``);
* the points, coloured by score (green 0, red 1, grey not scored), one line per setup, each point
  with a tooltip (date, AB, value);
* nice ticks: values on the y axis, hours, days, weeks or months on the x axis (UT).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dfos.qc.trend import SCORE_COLOURS, TrendPoint, mjd_to_datetime

__all__ = ["Band", "time_ticks", "trend_svg", "value_ticks"]

WIDTH, HEIGHT = 360, 150
LEFT, RIGHT, TOP, BOTTOM = 44, 6, 6, 20
BAND_COLOUR = "#2e9d3a"
LIMIT_COLOUR = "#d62728"
_SERIES = ("#8c8c8c", "#1f77b4", "#9467bd", "#8c564b", "#e377c2", "#17becf")


@dataclass(frozen=True)
class Band:
    """Where values should be: ``low`` to ``high`` (an open side: None), from ``start`` to ``end`` (MJD;
    None: the window's edge)."""

    low: float | None
    high: float | None
    start: float | None = None
    end: float | None = None


def _nice_step(span: float, count: int) -> float:
    raw = span / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    return float(next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw))


def value_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round values between ``low`` and ``high`` (about ``count`` of them)."""
    if not high > low:
        return [low]
    step = _nice_step(high - low, count)
    first = math.ceil(low / step) * step
    return [round(first + k * step, 12) for k in range(int((high - first) / step + 1e-9) + 1)]


_HOURS = (1, 2, 3, 6, 12, 24, 48, 72, 168, 336)


def time_ticks(start: datetime, end: datetime, most: int = 7) -> tuple[list[datetime], str]:
    """Tick times inside ``[start, end]`` at whole hours, days, weeks or months, and their strftime format."""
    span_h = (end - start).total_seconds() / 3600
    step = next((h for h in _HOURS if span_h / h <= most), None)
    if step is None:
        months = max(1, math.ceil(span_h / (24 * 30.4) / most))
        ticks: list[datetime] = []
        year, month = start.year, start.month
        while True:
            month += 1
            year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
            moment = datetime(year, month, 1)
            if moment > end:
                return ticks, "%Y-%m"
            if (year * 12 + month) % months == 0:
                ticks.append(moment)
    origin = datetime(start.year, start.month, start.day)
    first = origin + timedelta(hours=math.ceil((start - origin).total_seconds() / 3600 / step - 1e-9) * step)
    ticks = []
    moment = first
    while moment <= end:
        ticks.append(moment)
        moment += timedelta(hours=step)
    return ticks, "%m-%d %Hh" if step < 24 else "%m-%d"


def _num(value: float) -> str:
    return f"{value:.1f}"


def _label(value: float) -> str:
    return f"{value:.4g}"


def _y_range(points: Sequence[TrendPoint], bands: Sequence[Band]) -> tuple[float, float]:
    values = [p.value for p in points] + [v for b in bands for v in (b.low, b.high) if v is not None]
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or max(abs(high) * 0.05, 1.0)
    return low - pad, high + pad


class _Frame:
    """Data to pixel coordinates."""

    def __init__(self, x0: float, x1: float, y0: float, y1: float) -> None:
        self.x0, self.x1, self.y0, self.y1 = x0, x1, y0, y1

    def x(self, mjd: float) -> float:
        return LEFT + (mjd - self.x0) / (self.x1 - self.x0) * (WIDTH - LEFT - RIGHT)

    def y(self, value: float) -> float:
        return TOP + (self.y1 - value) / (self.y1 - self.y0) * (HEIGHT - TOP - BOTTOM)


def _bands(frame: _Frame, bands: Sequence[Band]) -> list[str]:
    out = []
    for band in bands:
        left = frame.x(max(band.start, frame.x0) if band.start is not None else frame.x0)
        right = frame.x(min(band.end, frame.x1) if band.end is not None else frame.x1)
        top = frame.y(band.high) if band.high is not None else TOP
        bottom = frame.y(band.low) if band.low is not None else HEIGHT - BOTTOM
        low, high = ("" if v is None else _label(v) for v in (band.low, band.high))
        out.append(f'<rect class="band" x="{_num(left)}" y="{_num(top)}" width="{_num(right - left)}" '
                   f'height="{_num(bottom - top)}" fill="{BAND_COLOUR}" fill-opacity="0.13" '
                   f'data-low="{low}" data-high="{high}"/>')
        for value in (band.low, band.high):
            if value is not None:
                out.append(f'<line class="limit" x1="{_num(left)}" x2="{_num(right)}" y1="{_num(frame.y(value))}" '
                           f'y2="{_num(frame.y(value))}" stroke="{LIMIT_COLOUR}" stroke-width="0.8" '
                           f'stroke-dasharray="4 3"/>')
    return out


def _axes(frame: _Frame) -> list[str]:
    out = [f'<rect class="frame" x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" '
           f'height="{HEIGHT - TOP - BOTTOM}" fill="none" stroke="#999" stroke-width="0.6"/>']
    for value in value_ticks(frame.y0, frame.y1):
        y = _num(frame.y(value))
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}" stroke="#e4e4e4" stroke-width="0.5"/>'
                   f'<text x="{LEFT - 3}" y="{y}" font-size="9" text-anchor="end" dominant-baseline="middle">'
                   f"{_label(value)}</text>")
    ticks, form = time_ticks(mjd_to_datetime(frame.x0), mjd_to_datetime(frame.x1))
    origin = mjd_to_datetime(frame.x0)
    for moment in ticks:
        x = _num(frame.x(frame.x0 + (moment - origin).total_seconds() / 86400))
        out.append(f'<line x1="{x}" x2="{x}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="#e4e4e4" stroke-width="0.5"/>'
                   f'<text class="xtick" x="{x}" y="{HEIGHT - BOTTOM + 12}" font-size="9" text-anchor="middle">'
                   f'{moment.strftime(form)}</text>')
    return out


def _series(frame: _Frame, points: Sequence[TrendPoint]) -> list[str]:
    out = []
    setups = sorted({p.setup for p in points})
    for index, setup in enumerate(setups):
        series = sorted((p for p in points if p.setup == setup), key=lambda p: p.mjd)
        colour = _SERIES[index % len(_SERIES)]
        if len(series) > 1:
            coords = " ".join(f"{_num(frame.x(p.mjd))},{_num(frame.y(p.value))}" for p in series)
            out.append(f'<polyline class="series" points="{coords}" fill="none" stroke="{colour}" '
                       f'stroke-width="0.8"/>')
        for p in series:
            tip = html.escape(f"{p.date} {p.ab} {setup}: {p.value:.6g}")
            fill = SCORE_COLOURS.get(p.score, SCORE_COLOURS[None])
            out.append(f'<circle class="point score-{p.score}" cx="{_num(frame.x(p.mjd))}" '
                       f'cy="{_num(frame.y(p.value))}" r="2.6" fill="{fill}" stroke="#333" '
                       f'stroke-width="0.3"><title>{tip}</title></circle>')
    if len(setups) > 1:
        for index, setup in enumerate(setups):
            out.append(f'<text x="{WIDTH - RIGHT - 2}" y="{TOP + 9 + 9 * index}" font-size="8" text-anchor="end" '
                       f'fill="{_SERIES[index % len(_SERIES)]}">{html.escape(setup[:40])}</text>')
    return out


def trend_svg(points: Sequence[TrendPoint], bands: Sequence[Band], start: float, end: float, title: str,
              unit: str = "") -> str:
    """The SVG of a trend over the window ``start`` to ``end`` (MJD); points outside it are left out.  The
    title and unit are its tooltip and accessible name (a page shows them in its caption)."""
    if not end > start:
        raise ValueError(f"the window must end after it starts: {start} to {end}")
    shown = [p for p in points if start <= p.mjd <= end and math.isfinite(p.value)]
    y0, y1 = _y_range(shown, bands)
    frame = _Frame(start, end, y0, y1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{html.escape(title)}" '
             f'data-x0="{start!r}" data-x1="{end!r}" font-family="sans-serif">',
             f"<title>{html.escape(title)}" + (f" [{html.escape(unit)}]" if unit else "") + "</title>",
             *_bands(frame, bands), *_axes(frame), *_series(frame, shown)]
    if not shown:
        parts.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{(TOP + HEIGHT - BOTTOM) / 2}" font-size="10" '
                     'text-anchor="middle" fill="#666">no values in this window</text>')
    parts.append("</svg>")
    return "\n".join(parts)
