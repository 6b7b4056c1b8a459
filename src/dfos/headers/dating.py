"""Which DFO date a frame belongs to, with broken templates shifted to the next date.

A template that straddles the date boundary (it started before 12:00 UT +
DFO_OFFSET and ended after) is moved entirely to the later date, as DFOS's
header downloader does, so that its frames are never split over two nights.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from dfos.dates import dfo_date

__all__ = ["FrameTime", "assign_dates"]


@dataclass(frozen=True, slots=True)
class FrameTime:
    """What dating needs to know of a frame."""

    name: str
    """The ARCFILE name."""
    moment: datetime
    """Exposure start (UT)."""
    template: str | None
    """TPL.START, identifying the template the frame belongs to (None: none)."""


def assign_dates(frames: Iterable[FrameTime], offset_hours: float = 0.0) -> dict[str, date]:
    """Map every frame name to its DFO date; a template's frames all get its last frame's date."""
    frames = list(frames)
    template_date: dict[str, date] = {}
    for frame in frames:
        if frame.template:
            own = dfo_date(frame.moment, offset_hours)
            template_date[frame.template] = max(own, template_date.get(frame.template, own))
    return {
        frame.name: template_date[frame.template] if frame.template else dfo_date(frame.moment, offset_hours)
        for frame in frames
    }
