"""The health page (``/health``) and its static copy: the health trends of a window, from the plot cache
(:mod:`dfos.steps.health_plots`), laid out as a grid with a light each.

``?days=N`` chooses the window (1 to 366 days, default 7; anything else is the default)."""

from __future__ import annotations

from typing import Any

from dfos.errors import DfosError
from dfos.steps.health_plots import health_plots
from dfos.workspace import Workspace

__all__ = ["DAY_CHOICES", "days_arg", "health_page_context"]

DAY_CHOICES = (1, 7, 30, 90, 365)
MOST_DAYS = 366


def days_arg(text: str | None, default: int = 7) -> int:
    """The ``days`` query parameter: a whole number from 1 to 366, the default otherwise."""
    if text and text.isdigit() and len(text) <= 3 and 1 <= int(text) <= MOST_DAYS:
        return int(text)
    return default


def health_page_context(workspace: Workspace, days: int = 7) -> dict[str, Any]:
    """What the health page shows: the window, the plots (in the thresholds' order), the count per light,
    or the problem that stopped it (one line)."""
    try:
        window, plots = health_plots(workspace, days)
    except DfosError as exc:
        return {"plots": [], "problem": exc.message, "days": days, "window": None, "lights": {},
                "choices": DAY_CHOICES}
    lights = {light: sum(1 for p in plots if p.light == light) for light in ("red", "green", "grey")}
    return {"plots": plots, "problem": "", "days": days, "window": window, "lights": lights,
            "choices": DAY_CHOICES}
