"""phoenix campaigns as operators run them: killed in the middle and started again, and on a Slurm cluster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from sqlalchemy import select

from batch import configure
from dfos.db import ab_runs, engine_for_url
from dfos.steps.phoenix import phoenix_date
from dfos.workspace import Workspace, open_workspace
from naco_night import phoenix_workspace
from waiting import wait_until

pytestmark = pytest.mark.esorex

NIGHT = date(2013, 2, 12)
NOW = {"DFOS_NOW": "2013-03-02T14:00:00"}


def _successes(ws: Workspace) -> Counter[str]:
    with engine_for_url(ws.db_url).begin() as db:
        rows = db.execute(select(ab_runs.c.ab, ab_runs.c.status)).all()
    return Counter(ab for ab, status in rows if status == "SUCCESSFUL")


@pytest.mark.parametrize("cut", ["CALIB", "SCIENCE"])
def test_a_killed_campaign_resumes_without_running_a_finished_ab_again(tmp_path: Path, cut: str) -> None:
    ws = phoenix_workspace(tmp_path / "ws", NIGHT, env=NOW)
    env = {**os.environ, **NOW}
    child = subprocess.Popen([sys.executable, "-m", "dfos", "--root", str(ws.root), "phoenix", "-d", NIGHT.isoformat()],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        # kill dfos (not its recipes: they are its session's) once an AB of that mode has succeeded
        wait_until(lambda: any(ab.startswith("NACO.2013-02-13T0" if cut == "SCIENCE" else "NACO.2013-02-12T")
                               for ab in _successes(ws)) or child.poll() is not None,
                   timeout=600, what=f"a {cut} AB to succeed")
        assert child.poll() is None, "phoenix ended before it could be killed"
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    before = _successes(ws)
    result = phoenix_date(open_workspace(ws.root, env=NOW), NIGHT)  # started again, by hand
    assert result.finished and not result.waiting
    after = _successes(ws)
    assert set(after) >= set(before) and all(count == 1 for count in after.values()), after  # none ran twice
    assert len(after) == 8 and len(list((ws.sci_dir / "2013-02-12").glob("NA_SCOA_*.fits"))) == 3


@pytest.mark.xdist_group("slurm")
def test_a_campaign_on_slurm_gives_the_same_products(tmp_path: Path, slurm_env: dict[str, str]) -> None:
    here = phoenix_workspace(tmp_path / "here", NIGHT, env=NOW)
    there = phoenix_workspace(tmp_path / "there", NIGHT, env=NOW)
    configure(there.root, EXECUTOR="slurm", BATCH_POLL=0.5)
    there = open_workspace(there.root, env=NOW)
    for ws in (here, there):
        assert phoenix_date(ws, NIGHT).finished
    products = {p.name for p in (here.sci_dir / "2013-02-12").glob("*.fits")}
    assert len(products) == 3 and products == {p.name for p in (there.sci_dir / "2013-02-12").glob("*.fits")}
    for name in products:
        with fits.open(here.sci_dir / "2013-02-12" / name) as a, fits.open(there.sci_dir / "2013-02-12" / name) as b:
            assert np.array_equal(a[0].data, b[0].data, equal_nan=True)
            assert a[0].header["PROV1"] == b[0].header["PROV1"] and a[0].header["NCOMBINE"] == b[0].header["NCOMBINE"]
    masters = {p.name for p in (here.cal_dir / "2013-02-12").glob("*.fits")}
    assert masters and masters == {p.name for p in (there.cal_dir / "2013-02-12").glob("*.fits")}
