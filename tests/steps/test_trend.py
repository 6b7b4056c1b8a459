"""A month of synthetic nights with a drifting bias level, processed with real esorex: the trend
marks the nights beyond the threshold red, the health light follows the newest night, and the
images are written for a person to look at (kept under the pytest temporary directory)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from dfos.db import engine_for_url, qc1_params
from dfos.steps.cascade import exec_cascade
from dfos.steps.create_ab import create_abs
from dfos.steps.create_job import create_job
from dfos.steps.demo_data import generate_night
from dfos.steps.headers import extract_headers
from dfos.steps.trend import health_report, make_trend
from dfos.workspace import Workspace, open_workspace

pytestmark = pytest.mark.esorex

FIRST = date(2013, 3, 1)
DAYS = 30
DRIFT = 0.75  # ADU per night: 180 ADU on the first night, 180 + 29 x 0.75 = 201.75 on the last


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    from dfos.workspace import init_workspace

    ws, _ = init_workspace(tmp_path_factory.mktemp("month") / "ws", env={}, instrument="UVES")
    for k in range(DAYS):
        day = FIRST + timedelta(days=k)
        generate_night(ws, day, small=True, seed=100 + k, only={"BIAS_BLUE"}, bias_shift=k * DRIFT)
    for k in range(DAYS):
        day = FIRST + timedelta(days=k)
        now = open_workspace(ws.root, env={"DFOS_NOW": f"{day + timedelta(days=1)}T14:00:00"})
        extract_headers(now, day)
        create_abs(now, day, "CALIB")
        create_job(now, day, "CALIB")
    for k in range(DAYS):
        dag = f"CALIB_{FIRST + timedelta(days=k)}"
        assert exec_cascade(ws, dag, ws.job_dir / f"execAB_{dag}", slots=2).ok
    return ws


def test_the_nights_beyond_the_threshold_score_red(month: Workspace) -> None:
    with engine_for_url(month.db_url).begin() as db:
        rows = db.execute(select(qc1_params.c.date, qc1_params.c.value, qc1_params.c.score)
                          .where(qc1_params.c.name == "QC BIAS LEVEL").order_by(qc1_params.c.date)).all()
    assert len(rows) == DAYS
    for k, row in enumerate(rows):
        injected = 180.0 + k * DRIFT
        assert row.date == str(FIRST + timedelta(days=k))
        assert row.value == pytest.approx(injected, abs=0.2)
        assert row.score == (1 if injected > 190.0 else 0), row  # the shipped limits: 170 to 190 ADU


def test_trend_and_health_images(month: Workspace, tmp_path: Path) -> None:
    files, points = make_trend(month, "QC BIAS LEVEL", days=DAYS)
    assert points == DAYS
    png, svg = files
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    text = svg.read_text()
    assert "<svg" in text and text.count("#d62728") >= 1  # red points (and the limits) are drawn
    week = make_trend(month, "QC BIAS LEVEL", days=7, until=FIRST + timedelta(days=9),
                      output=tmp_path / "first-week.png")
    assert week[1] == 7  # the window ends with the given date
    items = {i.label: i for i in health_report(month, days=7)}
    bias = items["blue bias level (MASTER_BIAS_BLUE)"]
    assert bias.light == "red" and bias.newest == str(FIRST + timedelta(days=DAYS - 1)) and bias.points == 7
    early = {i.label: i for i in health_report(month, days=7, until=FIRST + timedelta(days=9))}
    assert early["blue bias level (MASTER_BIAS_BLUE)"].light == "green"
    page = month.path("DFO_PLT_DIR") / "health" / "health_UVES.html"
    assert "blue bias level" in page.read_text() and bias.png.is_file()
