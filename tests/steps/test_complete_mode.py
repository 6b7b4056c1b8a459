"""phoenix COMPLETE_MODE on synthetic NACO nights with real esorex: a month's science takes its calibrations from
the dates around it, each built once into $DFO_CAL_DIR/NEW, and ``-d`` inside the month runs nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from astropy.io import fits
from sqlalchemy import select

from batch import configure
from dfos.ab.store import read_ab_file
from dfos.db import ab_runs, engine_for_url
from dfos.fsutil import sha256_file
from dfos.steps.content_keys import CHECKSUMS, recorded_checksums, with_content_keys
from dfos.steps.demo_data import generate_night
from dfos.steps.phoenix import phoenix_dates
from dfos.steps.static_calib import install_static
from dfos.workspace import Workspace, init_workspace, open_workspace
from waiting import wait_until

pytestmark = pytest.mark.esorex

NOW = {"DFOS_NOW": "2013-03-02T14:00:00"}
#: The 11th: darks, flats and science; the 12th: science only; the 13th: darks and flats only.  The 12th's
#: science (after midnight, on the 13th) is closer to the 13th's evening flats than to the 11th's.
D11, D12, D13 = date(2013, 2, 11), date(2013, 2, 12), date(2013, 2, 13)
NIGHTS = {D11: ("CAL_DARK", "CAL_FLAT_TW", "IM_JITTER_OBJ"), D12: ("IM_JITTER_OBJ",), D13: ("CAL_DARK", "CAL_FLAT_TW")}


def _workspace(root: Path) -> Workspace:
    from dfos.instruments.naco import Naco

    init_workspace(root, env={}, instrument="NACO", flavour="phoenix")
    configure(root, COMPLETE_MODE=True)
    ws = open_workspace(root, env=NOW)
    for seed, (night, only) in enumerate(NIGHTS.items(), start=3):
        generate_night(ws, night, small=True, seed=seed, only=only)
    install_static(ws, Naco())
    return ws


def _executed(ws: Workspace) -> Counter[str]:
    """AB -> how many successful runs made its products by running the recipe (reuses not counted)."""
    with engine_for_url(ws.db_url).begin() as db:
        rows = db.execute(select(ab_runs.c.ab, ab_runs.c.reused_from).where(ab_runs.c.status == "SUCCESSFUL")).all()
    return Counter(row.ab for row in rows if not row.reused_from)


def _science_flats(ws: Workspace, day: date) -> set[str]:
    """The dates of the flat fields the moved jitter ABs of a date read (``$DFO_CAL_DIR/NEW/<DATE>/...``)."""
    abs_ = [read_ab_file(path) for path in (ws.path("DFO_LOG_DIR") / day.isoformat()).glob("*.ab")]
    return {cal.sof_path.split("/")[2] for ab in abs_ if ab.recipe == "naco_img_jitter" for cal in ab.mcalib
            if "FLAT" in cal.tag}


def test_a_month_builds_the_calibrations_its_science_needs_once(tmp_path: Path) -> None:
    ws = _workspace(tmp_path / "ws")
    said: list[str] = []
    results = phoenix_dates(ws, [D11, D12, D13], "2013-02", say=said.append)
    assert [r.waiting for r in results] == [{}, {}, {}], said
    # the calibrations: built once, for both nights that have them, into $DFO_CAL_DIR/NEW/<DATE>
    for night in (D11, D13):
        masters = sorted(p.name for p in (ws.cal_dir / "NEW" / night.isoformat()).glob("*.fits"))
        assert masters and not (ws.cal_dir / night.isoformat()).exists(), masters
        header = (ws.mcal_dir / night.isoformat()).glob("*.hdr")
        assert all("$DFO_CAL_DIR/NEW/" in p.read_text() for p in header)  # the memory says where they are
    assert any("calibrations of 2 date(s) to build (2013-02-11, 2013-02-13)" in line for line in said), said
    # the 12th's science took the 13th's flat (the closest, a day later); the 11th took its own
    assert _science_flats(ws, D12) == {"2013-02-13"}
    assert _science_flats(ws, D11) == {"2013-02-11"}
    # science of both science nights, with IDP keywords naming their raw frames
    for night in (D11, D12):
        products = sorted((ws.sci_dir / night.isoformat()).glob("NA_SCOA_*.fits"))
        assert len(products) == 3
        assert fits.getheader(products[0])["PROV1"].startswith("NACO.")
    # every AB ran its recipe exactly once; the two cascades spanned the dates
    executed = _executed(ws)
    assert executed and set(executed.values()) == {1}, executed
    jobs = ws.job_dir
    assert (jobs / "execAB_PHOENIX_CALIB_2013-02").is_file() and (jobs / "execAB_PHOENIX_SCIENCE_2013-02").is_file()
    flags = [line.flag for line in ws.status_log.read() if line.key == "2013-02-12"]
    assert "finished" in flags and "sci_Updated" in flags

    # the archive's checksums of the raw frames, recorded at intake, are part of each AB's content key
    sums = (ws.hdr_dir / "2013-02-12" / CHECKSUMS).read_text().splitlines()
    digest, name = sums[0].split("  ")
    assert len(sums) == 15 and [digest] == [sha256_file(p) for p in ws.archive_dir.glob(f"*/{name}")]
    jitter = next(read_ab_file(p) for p in (ws.path("DFO_LOG_DIR") / "2013-02-12").glob("*.ab")
                  if read_ab_file(p).recipe == "naco_img_jitter")
    assert recorded_checksums(ws, [jitter])[jitter.rawfiles[0].ref.rsplit("/", 1)[1]]
    assert with_content_keys(ws, [jitter]) != with_content_keys(ws, [jitter], raw_checksums={})

    # -d of a date inside the processed month: nothing runs again
    before = _executed(ws)
    again = phoenix_dates(ws, [D12], "2013-02-12")
    assert again[0].finished and not again[0].waiting and _executed(ws) == before


def test_a_date_first_then_its_month_runs_nothing_twice(tmp_path: Path) -> None:
    ws = _workspace(tmp_path / "ws")
    said: list[str] = []
    first = phoenix_dates(ws, [D12], "2013-02-12", say=said.append)
    assert not first[0].waiting and first[0].finished, said
    # the 12th has no calibrations of its own: the 13th's (the closest) were built for it, not the 11th's
    assert list((ws.cal_dir / "NEW" / "2013-02-13").glob("*.fits"))
    assert not (ws.cal_dir / "NEW" / "2013-02-11").exists()
    after_date = _executed(ws)
    month = phoenix_dates(ws, [D11, D12, D13], "2013-02")
    assert all(r.finished or not r.waiting for r in month)
    executed = _executed(ws)
    assert set(executed.values()) == {1}, executed  # nothing of the 12th's ran again
    assert set(after_date) < set(executed)  # the 11th's ABs ran in the month
    assert len(list((ws.sci_dir / "2013-02-11").glob("NA_SCOA_*.fits"))) == 3
    # the month's SCIENCE cascade ran the 11th's science only (its ABs are named after their first frame)
    listed = (ws.job_dir / "execAB_PHOENIX_SCIENCE_2013-02").read_text()
    assert "NACO.2013-02-12T01:30" in listed and "NACO.2013-02-13T01:30" not in listed


@pytest.mark.parametrize("cut", ["CALIB", "SCIENCE"])
def test_a_month_killed_in_a_cascade_resumes_without_running_an_ab_twice(tmp_path: Path, cut: str) -> None:
    ws = _workspace(tmp_path / "ws")
    science = ("NACO.2013-02-12T01:30", "NACO.2013-02-13T01:30")  # the first jitter ABs of the 11th and 12th
    env = {**os.environ, **NOW}
    child = subprocess.Popen([sys.executable, "-m", "dfos", "--root", str(ws.root), "phoenix", "-m", "2013-02"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:  # dfos and its recipes (its session) are killed once an AB of that phase has succeeded
        wait_until(lambda: any(ab.startswith(science) == (cut == "SCIENCE") for ab in _executed(ws))
                   or child.poll() is not None, timeout=600, what=f"a {cut} AB to succeed")
        assert child.poll() is None, "phoenix ended before it could be killed"
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    before = _executed(ws)
    results = phoenix_dates(open_workspace(ws.root, env=NOW), [D11, D12, D13], "2013-02")  # started again
    assert all(r.finished and not r.waiting for r in results), [r.outcome for r in results]
    after = _executed(ws)
    assert set(after) >= set(before) and set(after.values()) == {1}, after  # none ran twice
    assert len(list(ws.sci_dir.glob("*/NA_SCOA_*.fits"))) == 6
    flags = [line.flag for line in ws.status_log.read() if line.key == "2013-02-11"]
    assert flags.count("cal_QC") == 1 and flags.count("sci_Updated") == 1, flags
