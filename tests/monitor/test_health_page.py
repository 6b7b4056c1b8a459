"""The health page (``/health``) from cached plots: a true time axis (the window, not the data span),
threshold bands, drawn once per set of inputs and again when the QC1 values or thresholds change."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from health_data import qc1_row, write_qc1
from sqlalchemy import update
from starlette.testclient import TestClient

from dfos.dates import datetime_to_mjd
from dfos.db import engine_for_url, qc1_params
from dfos.monitor.app import create_app
from dfos.qc import svgtrend
from dfos.qc.svgtrend import Band, time_ticks, trend_svg, value_ticks
from dfos.steps import health_plots
from dfos.steps.score import threshold_file
from dfos.workspace import Workspace, init_workspace, open_workspace

NOW = "2013-02-13T10:00:00"
BIAS, RON = "QC BIAS LEVEL", "QC RON RAW E"
BLUE = "MASTER_BIAS_BLUE"  # shipped UVES limits: bias 170 to 190 ADU, read noise 2 to 6, both health = true
SVG = "{http://www.w3.org/2000/svg}"


def workspace(root: Path, now: str = NOW) -> Workspace:
    init_workspace(root, env={}, instrument="UVES")
    return open_workspace(root, env={"DFOS_NOW": now, "DFOS_MONITOR_PUBLIC": "true"})


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """Ten nights of bias level and read noise; the newest bias level is red."""
    found = workspace(tmp_path / "ws")
    rows = []
    for k in range(10):
        taken = datetime(2013, 2, 3, 22) + timedelta(days=k)
        level = 195.0 if k == 9 else 180.0 + k
        rows.append(qc1_row(taken, BIAS, BLUE, level, int(level > 190), 170.0, 190.0))
        rows.append(qc1_row(taken, RON, BLUE, 3.0 + k / 10, 0, 2.0, 6.0))
    write_qc1(found, rows)
    return found


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The title of every plot drawn."""
    drawn: list[str] = []
    original = health_plots.trend_svg

    def counting(*args: Any) -> str:
        drawn.append(args[4])
        return original(*args)

    monkeypatch.setattr(health_plots, "trend_svg", counting)
    return drawn


@pytest.fixture
def client(ws: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(ws, token="t-123"), base_url="http://127.0.0.1") as test_client:
        yield test_client


def svgs(page: str) -> dict[str, ET.Element]:
    """The inline plots of a page by the PRO.CATG and parameter of their card."""
    found = {}
    for card in re.finditer(r'<figure class="health-card[^"]*" data-light="\w+" data-param="([^"]+)" '
                            r'data-catg="([^"]+)">.*?(<svg .*?</svg>)', page, re.S):
        found[f"{card[1]} {card[2]}"] = ET.fromstring(card[3])
    return found


def test_a_second_request_reads_the_cache(client: TestClient, renders: list[str], ws: Workspace) -> None:
    first = client.get("/health")
    assert first.status_code == 200
    assert sorted(svgs(first.text)) == [f"{BIAS} {BLUE}", f"{RON} {BLUE}"]
    assert len(renders) == 2 and len(list(health_plots.cache_dir(ws).glob("*.svg"))) == 2
    second = client.get("/health")
    assert len(renders) == 2  # nothing drawn again
    assert second.text.count("<svg") == first.text.count("<svg") == 2
    assert 'data-light="red" data-param="QC BIAS LEVEL"' in second.text
    assert 'data-light="green" data-param="QC RON RAW E"' in second.text


def test_changed_qc1_values_draw_that_plot_again(client: TestClient, renders: list[str], ws: Workspace) -> None:
    client.get("/health")
    assert len(renders) == 2
    with engine_for_url(ws.db_url).begin() as db:  # the red bias level re-measured: green now
        db.execute(update(qc1_params).where(qc1_params.c.name == BIAS, qc1_params.c.date == "2013-02-12")
                   .values(value=185.0, score=0))
    page = client.get("/health").text
    assert renders[2:] == ["UVES blue bias level (MASTER_BIAS_BLUE)"]  # only the changed trend
    assert 'data-light="green" data-param="QC BIAS LEVEL"' in page
    write_qc1(ws, [qc1_row(datetime(2013, 2, 13, 1), RON, BLUE, 3.5, 0, 2.0, 6.0)])  # a new value
    client.get("/health")
    assert renders[3:] == ["UVES read noise (MASTER_BIAS_BLUE)"]
    client.get("/health")
    assert len(renders) == 4


def test_a_changed_threshold_draws_again(client: TestClient, renders: list[str], ws: Workspace) -> None:
    client.get("/health")
    path = threshold_file(ws)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[[threshold]]\nparam = "{BIAS}"\npro_catg = "MASTER_BIAS_*"\nlow = 175.0\nhigh = 200.0\n'
                    'health = true\nlabel = "bias"\n')
    page = client.get("/health").text
    assert renders[2:] == ["UVES bias (MASTER_BIAS_BLUE)"]  # the read noise is no longer a health trend
    band = svgs(page)[f"{BIAS} {BLUE}"].find(f"{SVG}rect[@class='band']")
    assert band is not None and (band.get("data-low"), band.get("data-high")) == ("175", "200")


def test_one_point_is_drawn_at_its_date_inside_the_window(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws")
    taken = datetime(2013, 2, 10, 22)
    write_qc1(ws, [qc1_row(taken, BIAS, BLUE, 181.0, 0, 170.0, 190.0)])
    with TestClient(create_app(ws, token="t-123"), base_url="http://127.0.0.1") as client:
        page = client.get("/health").text
    assert "2013-02-06 10:00 to 2013-02-13 10:00 UT" in page
    plot = svgs(page)[f"{BIAS} {BLUE}"]
    start, end = datetime_to_mjd(datetime(2013, 2, 6, 10)), datetime_to_mjd(datetime(2013, 2, 13, 10))
    assert float(plot.get("data-x0", "")) == pytest.approx(start) and float(plot.get("data-x1", "")) == \
        pytest.approx(end)  # the window, not the data's span (a single instant)
    frame = plot.find(f"{SVG}rect[@class='frame']")
    assert frame is not None
    left, width = float(frame.get("x", "")), float(frame.get("width", ""))
    points = plot.findall(f"{SVG}circle")
    assert len(points) == 1
    expected = left + (datetime_to_mjd(taken) - start) / (end - start) * width  # 4.5 of 7 days along the axis
    assert float(points[0].get("cx", "")) == pytest.approx(expected, abs=0.1)
    ticks = [t.text for t in plot.findall(f"{SVG}text[@class='xtick']")]
    assert ticks == ["02-07", "02-08", "02-09", "02-10", "02-11", "02-12", "02-13"]  # days, not years


def test_the_window_follows_the_clock_and_the_days_asked(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws", now="2013-02-13T10:20:00")
    write_qc1(ws, [qc1_row(datetime(2013, 1, 20, 22), BIAS, BLUE, 181.0, 0, 170.0, 190.0)])
    with TestClient(create_app(ws, token="t-123"), base_url="http://127.0.0.1") as client:
        week = client.get("/health").text
        month = client.get("/health?days=30").text
        assert client.get("/health?days=0").text.count("last 7 days") == 1  # out of range: the default
    assert "2013-02-06 11:00 to 2013-02-13 11:00 UT" in week  # rounded up to the full hour
    assert "no values in this window" in week and 'data-light="grey"' in week  # its only value is older
    assert "2013-01-14 11:00 to 2013-02-13 11:00 UT" in month and 'data-light="green"' in month
    assert len(svgs(month)[f"{BIAS} {BLUE}"].findall(f"{SVG}circle")) == 1


def test_the_threshold_band_is_drawn_around_the_values(client: TestClient) -> None:
    plot = svgs(client.get("/health").text)[f"{BIAS} {BLUE}"]
    band = plot.find(f"{SVG}rect[@class='band']")
    assert band is not None and (band.get("data-low"), band.get("data-high")) == ("170", "190")
    top, bottom = float(band.get("y", "")), float(band.get("y", "")) + float(band.get("height", ""))
    limits = sorted(float(line.get("y1", "")) for line in plot.findall(f"{SVG}line[@class='limit']"))
    assert limits == pytest.approx([top, bottom])
    inside = [float(c.get("cy", "")) for c in plot.findall(f"{SVG}circle") if "score-0" in c.get("class", "")]
    outside = [float(c.get("cy", "")) for c in plot.findall(f"{SVG}circle") if "score-1" in c.get("class", "")]
    assert len(inside) == 6 and all(top < y < bottom for y in inside)  # 3 of the 10 nights are before the window
    assert len(outside) == 1 and outside[0] < top  # 195 ADU: above the band


def test_a_stat_threshold_draws_the_limits_of_each_value() -> None:
    from dfos.qc.trend import TrendPoint

    points = [TrendPoint(56330.0 + k, f"2013-02-0{k + 1}", f"AB{k}", "S", 10.0 + k, 0, 8.0 + k, 12.0 + k)
              for k in range(3)]
    svg = ET.fromstring(trend_svg(points, [Band(p.low, p.high, p.mjd - 0.5, p.mjd + 0.5) for p in points],
                                  56329.5, 56333.0, "T"))
    bands = svg.findall(f"{SVG}rect[@class='band']")
    assert [(b.get("data-low"), b.get("data-high")) for b in bands] == [("8", "12"), ("9", "13"), ("10", "14")]
    xs = [float(b.get("x", "")) for b in bands]
    assert xs == sorted(xs) and len(set(xs)) == 3


def test_ticks() -> None:
    assert value_ticks(169.2, 196.1) == [170, 180, 190]
    assert value_ticks(169.2, 196.1, count=6) == [170, 175, 180, 185, 190, 195]
    ticks, form = time_ticks(datetime(2013, 2, 13, 10), datetime(2013, 2, 14, 10))
    assert form == "%m-%d %Hh" and ticks[0] == datetime(2013, 2, 13, 12) and len(ticks) <= 7
    ticks, form = time_ticks(datetime(2012, 2, 14, 10), datetime(2013, 2, 13, 10))
    assert form == "%Y-%m" and all(t.day == 1 for t in ticks) and 5 <= len(ticks) <= 7
    with pytest.raises(ValueError):
        svgtrend.trend_svg([], [], 2.0, 1.0, "T")


def test_the_page_says_when_nothing_is_a_health_trend(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws")
    with TestClient(create_app(ws, token="t-123"), base_url="http://127.0.0.1") as client:
        page = client.get("/health")
    assert page.status_code == 200 and "no key trends yet" in page.text


def test_dfos_health_pngs_have_the_band_and_the_window(tmp_path: Path) -> None:
    """``dfos health`` (matplotlib PNGs): the threshold's band is drawn, and one value is not the whole axis."""
    from datetime import date

    from PIL import Image

    from dfos.steps.trend import health_report

    ws = workspace(tmp_path / "ws")
    write_qc1(ws, [qc1_row(datetime(2013, 2, 10, 22), BIAS, BLUE, 181.0, 0, 170.0, 190.0)])
    [item] = health_report(ws, 7, until=date(2013, 2, 12))
    with Image.open(item.png) as image:
        pixels = image.convert("RGB")
        width, height = pixels.size
        # the band's colour (#2e9d3a at 12 % on white) fills the plot's middle, left of the point
        r, g, b = pixels.getpixel((width // 3, height // 2))  # type: ignore[misc]
    assert g > r + 10 and g > b + 10 and g > 200


def test_plots_unused_for_a_day_go_when_another_is_drawn(client: TestClient, ws: Workspace) -> None:
    import os

    cache = health_plots.cache_dir(ws)
    cache.mkdir(parents=True)
    old, recent = cache / ("0" * 40 + ".svg"), cache / ("1" * 40 + ".svg")
    for path in (old, recent):
        path.write_text("<svg/>")
    os.utime(old, (os.stat(old).st_atime, os.stat(old).st_mtime - 2 * 86400))
    client.get("/health")
    assert not old.exists() and recent.exists() and len(list(cache.glob("*.svg"))) == 3


def test_a_read_only_plot_directory_still_shows_the_page(client: TestClient, ws: Workspace,
                                                         renders: list[str]) -> None:
    cache = health_plots.cache_dir(ws)
    cache.parent.mkdir(parents=True)
    cache.write_text("not a directory")  # the cache cannot be written
    page = client.get("/health")
    assert page.status_code == 200 and page.text.count("<svg") == 2 and len(renders) == 2
