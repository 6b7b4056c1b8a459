"""DFOS_NOW: every command can be made to believe it is another time."""

from __future__ import annotations

from datetime import UTC, date, datetime

from dfos import clock
from dfos.config.load import load_config


def test_now_honours_the_setting() -> None:
    settings = load_config(None, env={"DFOS_NOW": "2013-02-13T10:00:00"}).settings
    assert clock.now(settings) == datetime(2013, 2, 13, 10, 0, 0)
    assert clock.today(settings) == date(2013, 2, 12)  # before noon: still the night of the 12th


def test_today_uses_the_offset() -> None:
    env = {"DFOS_NOW": "2013-02-13T13:00:00", "DFOS_DFO_OFFSET": "2"}
    assert clock.today(load_config(None, env=env).settings) == date(2013, 2, 12)
    env["DFOS_DFO_OFFSET"] = "0"
    assert clock.today(load_config(None, env=env).settings) == date(2013, 2, 13)


def test_real_clock_when_unset() -> None:
    settings = load_config(None, env={}).settings
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    assert clock.now(settings) >= before
