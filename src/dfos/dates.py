"""DFO dates: the noon-to-noon night label, TODAY, and UT timestamps.

A DFO date labels an observing night.  A night runs from ``12:00 UT +
DFO_OFFSET`` hours on the evening's date to the same time on the next day, so
a frame taken at 2013-02-13T11:59 UT belongs to the DFO date 2013-02-12 and
one taken at 12:00 UT to 2013-02-13.  All functions here are pure: the current
time is always an argument (see :mod:`dfos.clock`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from dfos.errors import InvalidDate

__all__ = [
    "FIRST_YEAR",
    "LAST_YEAR",
    "MJD_EPOCH",
    "datetime_to_mjd",
    "dfo_date",
    "format_timestamp",
    "mjd_to_datetime",
    "night_bounds",
    "parse_date",
    "parse_timestamp",
]

#: Modified Julian Date zero point (1858-11-17T00:00 UT).
MJD_EPOCH = datetime(1858, 11, 17)

#: The hour (UT) at which a DFO date begins, before DFO_OFFSET is added.
NOON_HOUR = 12

#: Dates dfos accepts: far enough from the ends of the calendar that the noon rule,
#: neighbouring nights and four-digit file names always work.
FIRST_YEAR, LAST_YEAR = 1900, 2999

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?$")


def parse_date(text: str) -> date:
    """Parse a DFO date written ``YYYY-MM-DD``.

    Raises
    ------
    InvalidDate
        If the text is not exactly that form or is not a calendar date.
    """
    value = text.strip()
    if not _DATE_RE.match(value):
        raise InvalidDate(f"{text!r} is not a DFO date: write it as YYYY-MM-DD, e.g. 2013-02-12")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidDate(f"{text!r} is not a calendar date: check month and day") from None
    _check_year(text, day.year)
    return day


def _check_year(text: str, year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidDate(f"{text!r} is outside the years dfos handles ({FIRST_YEAR} to {LAST_YEAR})")


def parse_timestamp(text: str) -> datetime:
    """Parse a UT timestamp ``YYYY-MM-DDThh:mm:ss[.ffffff]`` (no time zone).

    Raises
    ------
    InvalidDate
        If the text is not of that form.
    """
    value = text.strip()
    if not _TIMESTAMP_RE.match(value):
        raise InvalidDate(
            f"{text!r} is not a UT timestamp: write it as YYYY-MM-DDThh:mm:ss, "
            "e.g. 2013-02-13T10:00:00"
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidDate(f"{text!r} is not a valid time: check the fields") from None
    _check_year(text, moment.year)
    return moment


def format_timestamp(moment: datetime) -> str:
    """Render a moment as DFO_STATUS writes it: ``YYYY-MM-DDThh:mm:ss`` (seconds truncated)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def dfo_date(moment: datetime, offset_hours: float = 0.0) -> date:
    """Return the DFO date of a UT moment.

    Parameters
    ----------
    moment
        A naive datetime in UT.
    offset_hours
        ``DFO_OFFSET``: hours added to the 12:00 UT boundary (may be negative
        or fractional).
    """
    return (moment - timedelta(hours=NOON_HOUR + offset_hours)).date()


def night_bounds(day: date, offset_hours: float = 0.0) -> tuple[datetime, datetime]:
    """Return the half-open UT interval ``[start, end)`` covered by a DFO date."""
    start = datetime(day.year, day.month, day.day) + timedelta(hours=NOON_HOUR + offset_hours)
    return start, start + timedelta(days=1)


def datetime_to_mjd(moment: datetime) -> float:
    """Convert a naive UT datetime to a Modified Julian Date."""
    return (moment - MJD_EPOCH) / timedelta(days=1)


def mjd_to_datetime(mjd: float) -> datetime:
    """The naive UT datetime of a Modified Julian Date, to the millisecond (an AB's MJD-OBS holds 8
    decimals, 0.9 ms: rounding to the millisecond gives back the frame's DATE-OBS)."""
    milliseconds = round(mjd * 86_400_000)
    return MJD_EPOCH + timedelta(milliseconds=milliseconds)
