"""Trend plots of QC1 parameters (PNG and SVG, matplotlib's Agg backend) and health-check lights.

A trend shows one parameter over time, one series per setup, each point coloured by its score
(green 0, red 1, grey not scored), with the limits each point was scored against.  The health
light of a trend follows DFOS's scoreHC: over the window, the newest scored point decides (a newer
green overrides an older red); grey when nothing in the window was scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dfos.qc.plotting import DRAWING, save_figure

__all__ = ["SCORE_COLOURS", "TrendPoint", "health_light", "mjd_to_datetime", "render_trend"]

SCORE_COLOURS = {0: "#2e9d3a", 1: "#d62728", None: "#9a9a9a"}
_MJD_ZERO = datetime(1858, 11, 17)
_MJD_UNIX = 40587.0  # MJD of 1970-01-01


@dataclass(frozen=True)
class TrendPoint:
    mjd: float
    date: str
    ab: str
    setup: str
    value: float
    score: int | None
    low: float | None
    high: float | None


def mjd_to_datetime(mjd: float) -> datetime:
    return _MJD_ZERO + timedelta(days=mjd)


def health_light(points: Sequence[TrendPoint]) -> str:
    """green, red or grey: the score of the newest scored point."""
    scored = [p for p in sorted(points, key=lambda p: p.mjd) if p.score is not None]
    return "grey" if not scored else "red" if scored[-1].score else "green"


def render_trend(points: Sequence[TrendPoint], title: str, unit: str, targets: Sequence[Path],
                 window: tuple[float, float] | None = None,
                 bands: Sequence[tuple[float | None, float | None]] = ()) -> list[Path]:
    """Draw the trend into every target (the suffix chooses the format: .png, .svg); atomic writes.
    ``window`` (MJD from, to) is the x axis (default: the data's span); ``bands`` (low, high) are drawn as
    translucent green bands (the threshold's range)."""
    with DRAWING:
        return _render_trend(points, title, unit, targets, window, bands)


def _render_trend(points: Sequence[TrendPoint], title: str, unit: str, targets: Sequence[Path],
                  window: tuple[float, float] | None = None,
                  bands: Sequence[tuple[float | None, float | None]] = ()) -> list[Path]:
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 4))  # no pyplot: its global state is not safe in threads
    axes = figure.subplots()
    setups = sorted({p.setup for p in points})
    markers = "osD^v<>ph*"
    for index, setup in enumerate(setups):
        series = sorted((p for p in points if p.setup == setup), key=lambda p: p.mjd)
        times = [p.mjd - _MJD_UNIX for p in series]  # matplotlib's date numbers: days since 1970-01-01
        axes.plot(times, [p.value for p in series], color="0.75", linewidth=0.8, zorder=1)
        axes.scatter(times, [p.value for p in series], c=[SCORE_COLOURS[p.score] for p in series],
                     marker=markers[index % len(markers)], s=28, zorder=3, label=setup,
                     edgecolors="0.2", linewidths=0.4)
        for attr in ("low", "high"):
            bounds = [(t, getattr(p, attr)) for t, p in zip(times, series, strict=True)
                      if getattr(p, attr) is not None]
            if bounds:
                axes.step([t for t, _ in bounds], [b for _, b in bounds], where="mid", color="#d62728",
                          linestyle="--", linewidth=0.9, zorder=2)
    if not points:
        axes.text(0.5, 0.5, "no values in this window", transform=axes.transAxes, ha="center", color="0.4")
    _frame(axes, window, bands)
    axes.set_title(title, fontsize=10)
    axes.set_ylabel(unit or "value")
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))  # type: ignore[no-untyped-call]
    figure.autofmt_xdate()
    if len(setups) > 1:
        axes.legend(fontsize=7, loc="best", title="setup", title_fontsize=7)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    written = []
    for target in targets:
        written.append(save_figure(figure, target, dpi=90))
    return written


def _frame(axes: Any, window: tuple[float, float] | None, bands: Sequence[tuple[float | None, float | None]]) -> None:
    """The threshold bands (an open side reaches the plot's edge) and the window as the x range."""
    for low, high in bands:
        bottom, top = axes.get_ylim()
        axes.axhspan(bottom if low is None else low, top if high is None else high, color="#2e9d3a", alpha=0.12,
                     zorder=0, gid="band")
        axes.set_ylim(min(bottom, low if low is not None else bottom), max(top, high if high is not None else top))
    if window is not None:
        axes.set_xlim(window[0] - _MJD_UNIX, window[1] - _MJD_UNIX)
