"""dfos.qc.trend (mirror; test_trend.py is taken by steps/trend): health lights, the newest scored point
decides; the plot is written in each format."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from dfos.qc.trend import TrendPoint, health_light, mjd_to_datetime, render_trend


def point(mjd: float, score: int | None, setup: str = "BLUE", value: float = 180.0) -> TrendPoint:
    return TrendPoint(mjd, "2013-02-12", f"ab{mjd}", setup, value, score, 170.0 if score is not None else None,
                      190.0 if score is not None else None)


def test_the_newest_scored_point_decides_the_light() -> None:
    assert health_light([]) == "grey"
    assert health_light([point(1.0, None), point(2.0, None)]) == "grey"
    assert health_light([point(2.0, 0), point(1.0, 1)]) == "green"  # a newer green overrides an older red
    assert health_light([point(1.0, 0), point(2.0, 1), point(3.0, None)]) == "red"  # grey points do not count


def test_mjd_to_datetime() -> None:
    assert mjd_to_datetime(56335.5) == datetime(2013, 2, 12, 12, 0)
    assert mjd_to_datetime(0.0) == datetime(1858, 11, 17)


def test_a_trend_is_drawn_in_every_format_asked(tmp_path: Path) -> None:
    points = [point(56330.0 + i, i % 2, setup) for i in range(4) for setup in ("BLUE", "RED")]
    png, svg = tmp_path / "t.png", tmp_path / "t.svg"
    assert render_trend(points, "bias level", "ADU", [png, svg]) == [png, svg]
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    text = svg.read_text()
    assert "<svg" in text and "bias level" in text
    assert [p.name for p in tmp_path.iterdir() if p.name not in ("t.png", "t.svg")] == []  # no temporary left


def test_an_empty_window_still_draws_a_plot(tmp_path: Path) -> None:
    (svg,) = render_trend([], "nothing", "", [tmp_path / "empty.svg"])
    assert "no values in this window" in svg.read_text()
