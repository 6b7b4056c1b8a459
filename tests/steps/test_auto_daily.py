"""autoDaily: one run at a time (also after a SIGKILL), the incremental day, forced refreshes via cron."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dfos.cli.main import main
from dfos.steps.auto_daily import auto_daily, request_file
from dfos.steps.demo_data import generate_night
from dfos.workspace import Workspace, open_workspace
from waiting import wait_until

NOW = {"DFOS_NOW": "2013-02-13T14:00:00"}

#: A child that imports everything, says "ready", waits for "go", then runs auto-daily (13: busy).
CHILD = """
import os, sys
from dfos.steps.auto_daily import AutoDailyBusy, auto_daily
from dfos.workspace import open_workspace
ws = open_workspace(__import__("pathlib").Path(sys.argv[1]),
                    env={"DFOS_NOW": "2013-02-13T14:00:00", "DFOS_ESOREX": "true"})
print("ready", flush=True)
sys.stdin.readline()
try:
    auto_daily(ws)
except AutoDailyBusy:
    os._exit(13)
"""


@pytest.fixture
def template(uves_night: Workspace) -> Path:
    """A workspace whose archive holds a night nobody has taken in yet."""
    return uves_night.root


def _start(root: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(root)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    return child


def _go(child: subprocess.Popen[str]) -> None:
    assert child.stdin is not None
    child.stdin.write("go\n")
    child.stdin.flush()


def _finish(child: subprocess.Popen[str]) -> int:
    code = child.wait(timeout=120)
    assert child.stdin is not None and child.stdout is not None
    child.stdin.close()
    child.stdout.close()
    return code


def test_two_runs_at_once_twenty_times(template: Path, tmp_path: Path) -> None:
    for attempt in range(20):
        root = tmp_path / f"ws{attempt}"
        shutil.copytree(template, root)
        first, second = _start(root), _start(root)
        _go(first)
        _go(second)
        codes = sorted([_finish(first), _finish(second)])
        assert codes == [0, 13], (attempt, codes)
        logs = list((root / "monitor" / "AUTO_DAILY").glob("auto_daily_*.log"))
        assert len(logs) == 1  # exactly one did the work
        shutil.rmtree(root)


def test_a_killed_run_leaves_a_lock_the_next_one_takes_over(template: Path) -> None:
    child = _start(template)
    _go(child)
    holder = template / "monitor" / "AUTO_DAILY" / ".lock.pid"
    wait_until(lambda: holder.is_file() and holder.read_text().strip() == str(child.pid),
               what="the child to hold the auto-daily lock (its pid in .lock.pid)")
    child.kill()
    _finish(child)
    assert (template / "monitor" / "AUTO_DAILY" / ".lock").exists()
    ws = open_workspace(template, env={**NOW, "DFOS_ESOREX": "true"})
    result = auto_daily(ws)
    assert result.dates == ["2013-02-12"]  # the cut date was still listed in list_data_dates: done now


def test_the_incremental_day_and_an_idle_run(template: Path) -> None:
    ws = open_workspace(template, env={**NOW, "DFOS_ESOREX": "true"})
    first = auto_daily(ws)
    assert first.dates == ["2013-02-12"] and first.log is not None
    assert any("raw_Complete" in m for m in first.messages)  # the night is over and every frame arrived
    assert (ws.mon_dir / "AB_list_CALIB_2013-02-12").is_file() and (ws.job_dir / "JOBS_AUTO").is_file()
    flags = [line.flag for line in ws.status_log.read()]
    assert "cal_Queued" in flags and flags.index("cal_QC") < flags.index("sci_AB")  # CALIB first, SCIENCE after
    # UVES science needs static line tables dfos cannot install: its SCIENCE ABs are INCOMPLETE, and it says so
    assert "2013-02-12: SCIENCE: nothing to process" in first.messages and "sci_Queued" not in flags
    idle = auto_daily(ws)
    assert idle.messages == ["nothing new"] and idle.dates == [] and idle.log is None
    assert (ws.mon_dir / "AUTO_DAILY" / "last_run").read_text().strip() == "2013-02-13T14:00:00"
    generate_night(ws, __import__("datetime").date(2013, 2, 13), small=True, seed=4, only={"BIAS_BLUE"})
    later = open_workspace(template, env={"DFOS_NOW": "2013-02-14T14:00:00", "DFOS_ESOREX": "true"})
    assert auto_daily(later).dates == ["2013-02-13"]  # only the new night


@pytest.mark.esorex
def test_forced_refresh_through_cron(template: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = ["--root", str(template)]
    assert main([*root, "--set", "ESOREX=true", "cron", "run", "-t", "autoDaily", "--if-requested"]) == 0
    assert not (template / "monitor" / "CRON_LOGS").exists()  # nothing requested: nothing run
    request = request_file(open_workspace(template, env={}))
    request.parent.mkdir(parents=True, exist_ok=True)
    request.touch()
    assert main([*root, "cron", "run", "-t", "autoDaily", "--if-requested"]) == 0
    assert not request.exists()
    (log,) = (template / "monitor" / "CRON_LOGS").glob("autoDaily_*.log")
    assert "$ dfos auto-daily" in log.read_text() and "exit 0" in log.read_text()
    assert main([*root, "cron", "install"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("17 * * * * ") and line.endswith("cron run -t autoDaily") for line in lines)
    assert any(line.startswith("* * * * * ") and line.endswith("--if-requested") for line in lines)


@pytest.mark.esorex
def test_a_growing_night_ends_like_the_whole_night(workspace: Workspace, tmp_path: Path) -> None:
    from datetime import date

    from astropy.io import fits

    from dfos.workspace import init_workspace

    night = date(2013, 2, 12)

    def products(ws: Workspace) -> dict[str, tuple[str, float | None]]:
        found = {}
        for path in ws.path("DFS_PRODUCT").rglob("*.fits"):
            header = fits.getheader(path)
            found[path.name] = (header["HIERARCH ESO PRO CATG"], header.get("HIERARCH ESO QC OUT1 RON MASTER"))
        return found

    whole, _ = init_workspace(tmp_path / "whole", env={}, instrument="UVES")
    generate_night(whole, night, small=True, seed=7)
    auto_daily(open_workspace(whole.root, env=NOW))

    growing = workspace
    during = {"DFOS_NOW": "2013-02-12T23:59:00"}  # TODAY: the night is still being observed
    for batch in range(1, 5):
        generate_night(growing, night, small=True, seed=7, batches=4)
        result = auto_daily(open_workspace(growing.root, env=during))
        assert result.dates == ["2013-02-12"], (batch, result.messages)
    final = auto_daily(open_workspace(growing.root, env=NOW))
    assert final.messages[0] == "night over, every frame arrived: raw_Complete for 2013-02-12"
    assert products(growing) == products(whole) and len(products(whole)) == 7
    runs = [line.flag for line in growing.status_log.read()]
    assert runs.count("cal_QC") == 4 and runs.count("raw_Complete") == 1


@pytest.mark.esorex
def test_a_better_calibration_supersedes_what_used_a_worse_one(uves_night: Workspace) -> None:
    from datetime import date

    from sqlalchemy import select

    from dfos.ab.lists import read_ab_list
    from dfos.db import ab_runs, engine_for_url
    from dfos.steps.certify import certify, parse_decisions
    from dfos.steps.create_ab import supersession_log
    from dfos.steps.move import move
    from dfos.steps.process_ab import load_ab

    first, second = date(2013, 2, 12), date(2013, 2, 13)
    ws = open_workspace(uves_night.root, env=NOW)
    auto_daily(ws)  # the first night, processed, certified and moved: its master bias is in MCAL
    certify(ws, "CALIB", first, parse_decisions("UVES.2013-02-12T21:50:00.500_frm.ab accept\n"
                                                "UVES.2013-02-12T21:52:00.500_tpl.ab accept\n"), accept_green=True)
    move(ws, "CALIB", first)

    during = open_workspace(ws.root, env={"DFOS_NOW": "2013-02-13T23:59:00"})
    dark = "UVES.2013-02-13T18:40:00.500_tpl.ab"
    generate_night(ws, second, small=True, seed=5, only={"DARK_BLUE"})  # the darks arrive first ...
    auto_daily(during)
    assert [c.sof_path for c in load_ab(ws, dark).mcalib] == ["$DFO_CAL_DIR/2013-02-12/UV_MBIA_130212A_BLUE.fits"]
    assert load_ab(ws, dark).process_status.value == "SUCCESSFUL"
    old_product = ws.path("DFS_PRODUCT") / "DARK_BLUE" / "2013-02-13" / "r.UVES.2013-02-13T18:40:00.500_tpl_0000.fits"
    old_bytes = old_product.read_bytes()

    generate_night(ws, second, small=True, seed=5, only={"DARK_BLUE", "BIAS_BLUE"})  # ... the night's bias later
    auto_daily(during)
    renewed = load_ab(ws, dark)
    (bias,) = renewed.mcalib
    assert bias.virtual and bias.producer == "UVES.2013-02-13T18:05:00.500_tpl.ab"  # the same night's master
    assert renewed.process_status.value == "SUCCESSFUL" and renewed.waitfor == (bias.producer,)
    (line,) = supersession_log(ws, "CALIB_2013-02-13").read_text().splitlines()
    assert f"{dark} run 1 superseded (a better calibration arrived)" in line
    assert "was MASTER_BIAS_BLUE=UV_MBIA_130212A_BLUE.fits" in line
    kept = ws.path("DFO_LOG_DIR") / "2013-02-13" / "superseded" / "UVES.2013-02-13T18:40:00.500_tpl.1"
    assert (kept / old_product.name).read_bytes() == old_bytes  # the old product is kept, not deleted
    with engine_for_url(ws.db_url).begin() as db:
        statuses = db.execute(select(ab_runs.c.status).where(ab_runs.c.ab == dark).order_by(ab_runs.c.id)).scalars()
        assert list(statuses) == ["SUCCESSFUL", "SUCCESSFUL"]  # it ran again, with the better bias
    assert {e.name for e in read_ab_list(ws.mon_dir / "AB_list_CALIB_2013-02-13") if e.done} == {dark, bias.producer}
    from starlette.testclient import TestClient

    from dfos.monitor.app import create_app

    with TestClient(create_app(during, token="t"), base_url="http://127.0.0.1") as client:
        client.get("/login?token=t")
        assert "superseded 1x" in client.get("/abs/2013-02-13").text  # shown in the AB monitor ...
        page = client.get(f"/ab/{dark}").text
        assert 'id="superseded"' in page and "was MASTER_BIAS_BLUE=UV_MBIA_130212A_BLUE.fits" in page  # ... with what


def test_the_monitor_recognises_the_installed_cron_lines(template: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dfos.monitor.facts import classify_crontab

    assert main(["--root", str(template), "cron", "install"]) == 0
    found = classify_crontab(capsys.readouterr().out)
    assert found["autodaily"] is not None and found["autodaily"].startswith("17 * * * * ")
    assert found["trends"] is not None and found["trends"].endswith("cron run -t health")
    assert classify_crontab("# 0 * * * * dfos auto-daily\n")["autodaily"] is None  # commented out: not enabled
