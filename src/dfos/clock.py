"""The current UT time as dfos sees it: the real clock, or ``NOW`` when it is set.

``DFOS_NOW=2013-02-13T10:00:00`` (or ``NOW`` in dfos.toml) makes every command
believe that is the current UT time, for tests, demos and replays.  This is the
only place that reads the system clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from dfos.config.settings import Settings
from dfos.dates import dfo_date, parse_timestamp

__all__ = ["now", "system_now", "today"]


def now(settings: Settings) -> datetime:
    """The current UT time (naive), honouring ``NOW``."""
    if settings.NOW:
        return parse_timestamp(settings.NOW)
    return datetime.now(UTC).replace(tzinfo=None)


def today(settings: Settings) -> date:
    """TODAY: the DFO date of :func:`now` under the configured ``DFO_OFFSET``."""
    return dfo_date(now(settings), settings.DFO_OFFSET)


def system_now() -> datetime:
    """The real UT time (naive), ignoring ``NOW``: for ages of files, whose times are real."""
    return datetime.now(UTC).replace(tzinfo=None)
