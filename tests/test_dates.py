"""DFO date assignment: the noon rule, DFO_OFFSET, month and year ends, timestamps."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dfos.dates import (
    datetime_to_mjd,
    dfo_date,
    format_timestamp,
    mjd_to_datetime,
    night_bounds,
    parse_date,
    parse_timestamp,
)
from dfos.errors import InvalidDate


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2013-02-12T12:00:00", "2013-02-12"),  # the boundary itself opens the new date
        ("2013-02-12T11:59:59", "2013-02-11"),
        ("2013-02-12T23:59:59", "2013-02-12"),
        ("2013-02-13T00:00:00", "2013-02-12"),
        ("2013-02-13T11:59:59.999", "2013-02-12"),
        ("2013-03-01T06:00:00", "2013-02-28"),  # month end (non-leap February)
        ("2012-03-01T06:00:00", "2012-02-29"),  # leap day
        ("2014-01-01T03:00:00", "2013-12-31"),  # year end
        ("2014-01-01T12:00:00", "2014-01-01"),
        ("2013-12-31T12:00:00", "2013-12-31"),
    ],
)
def test_noon_rule(moment: str, expected: str) -> None:
    assert dfo_date(datetime.fromisoformat(moment)) == date.fromisoformat(expected)


@pytest.mark.parametrize(
    ("moment", "offset", "expected"),
    [
        ("2013-02-12T13:00:00", 2.0, "2013-02-11"),  # boundary moved to 14:00 UT
        ("2013-02-12T14:00:00", 2.0, "2013-02-12"),
        ("2013-02-12T10:00:00", -3.0, "2013-02-12"),  # boundary moved to 09:00 UT
        ("2013-02-12T08:59:00", -3.0, "2013-02-11"),
        ("2013-02-12T12:29:00", 0.5, "2013-02-11"),
        ("2014-01-01T13:00:00", 1.5, "2013-12-31"),
    ],
)
def test_offset_moves_the_boundary(moment: str, offset: float, expected: str) -> None:
    assert dfo_date(datetime.fromisoformat(moment), offset) == date.fromisoformat(expected)


def test_night_bounds_are_consistent_with_dfo_date() -> None:
    start, end = night_bounds(date(2013, 12, 31), 1.0)
    assert (start, end) == (datetime(2013, 12, 31, 13), datetime(2014, 1, 1, 13))
    assert dfo_date(start, 1.0) == date(2013, 12, 31)
    assert dfo_date(end, 1.0) == date(2014, 1, 1)


@pytest.mark.parametrize("text", ["2013-2-12", "13-02-12", "2013-02-30", "2013/02/12", "", "today", "2013-13-01"])
def test_parse_date_rejects(text: str) -> None:
    with pytest.raises(InvalidDate):
        parse_date(text)


def test_parse_date_accepts() -> None:
    assert parse_date(" 2013-02-12 ") == date(2013, 2, 12)


def test_timestamps_round_trip() -> None:
    moment = parse_timestamp("2013-02-13T10:00:00")
    assert format_timestamp(moment) == "2013-02-13T10:00:00"
    assert format_timestamp(parse_timestamp("2013-02-13T10:00:00.750")) == "2013-02-13T10:00:00"
    with pytest.raises(InvalidDate):
        parse_timestamp("2013-02-13 10:00:00")
    with pytest.raises(InvalidDate):
        parse_timestamp("2013-02-13T25:00:00")


def test_mjd_conversion() -> None:
    assert datetime_to_mjd(datetime(2013, 2, 12)) == 56335.0
    assert datetime_to_mjd(datetime(2013, 2, 12, 18, 0)) == 56335.75


@pytest.mark.parametrize("text", ["0001-01-01", "1899-12-31", "3000-01-01", "9999-12-31"])
def test_years_outside_the_supported_range_are_rejected(text: str) -> None:
    with pytest.raises(InvalidDate, match="outside the years dfos handles"):
        parse_date(text)
    with pytest.raises(InvalidDate, match="outside the years dfos handles"):
        parse_timestamp(text + "T00:00:00")


@settings(deadline=None)
@given(st.datetimes(datetime(1900, 1, 1), datetime(2999, 12, 31)).map(
    lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000)))
def test_an_ab_mjd_gives_back_the_millisecond(moment: datetime) -> None:
    """An AB holds MJD-OBS with 8 decimals (0.9 ms): the frame's DATE-OBS, to the millisecond, comes back."""
    assert mjd_to_datetime(round(datetime_to_mjd(moment), 8)) == moment
