"""Fetching from the archive: certified masters reduced to headers come back once, before the cascade."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from dfos.errors import DfosError, FormatError
from dfos.steps.create_ab import create_abs
from dfos.steps.create_job import create_job
from dfos.steps.fetch import fetch_master, fetch_masters, missing_masters
from dfos.steps.headers import extract_headers
from dfos.steps.process_ab import load_ab, process_ab
from dfos.workspace import Workspace, open_workspace

NIGHT = date(2013, 2, 12)
BIAS = "UVES.2013-02-12T18:05:00.500_tpl.ab"
DARK = "UVES.2013-02-12T18:40:00.500_tpl.ab"
MASTER = "2013-02-10/UV_MBIA_130210A_BLUE.fits"


def _certify_earlier_master(ws: Workspace, fits_bytes: bytes) -> Path:
    """Make the night's blue bias a certified master of 2013-02-10 that cleanupProducts reduced to
    its header: the header in the calibration memory, the FITS file only in the archive."""
    vcal = ws.vcal_dir / "2013-02-12" / "r.UVES.2013-02-12T18:05:00.500_tpl_0000.hdr"
    memory = ws.mcal_dir / "2013-02-10" / "UV_MBIA_130210A_BLUE.hdr"
    memory.parent.mkdir(parents=True)
    text = vcal.read_text().replace("2013-02-12T18:05:00.500", "2013-02-10T18:05:00.500")
    memory.write_text(text.replace("MJD-OBS =       56335.", "MJD-OBS =       56333."))
    shutil.rmtree(ws.vcal_dir)
    for hdr in (ws.hdr_dir / "2013-02-12").glob("UVES.2013-02-12T18:0*.hdr"):
        hdr.unlink()  # the night had no blue bias: the dark must take the certified one
    archived = ws.archive_dir / "calib" / MASTER
    archived.parent.mkdir(parents=True)
    archived.write_bytes(fits_bytes)
    return archived


@pytest.fixture
def night(uves_night: Workspace) -> Workspace:
    extract_headers(uves_night, NIGHT)
    ws = open_workspace(uves_night.root, env={"DFOS_NOW": "2013-02-13T14:00:00"})
    create_abs(ws, NIGHT, "CALIB")
    return ws


def test_fetch_master_copies_once_and_refuses_odd_names(night: Workspace) -> None:
    archived = night.archive_dir / "calib" / MASTER
    archived.parent.mkdir(parents=True)
    archived.write_bytes(b"master bias bytes")
    target = fetch_master(night, MASTER)
    assert target == night.cal_dir / MASTER and target.read_bytes() == b"master bias bytes"
    archived.write_bytes(b"changed in the archive")
    assert fetch_master(night, MASTER).read_bytes() == b"master bias bytes"  # on disk: left alone
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".part")]
    for name in ("../../etc/passwd", "MCAL/x.fits", "2013-02-10/../../x.fits", "2013-02-10/..", "x.fits"):
        with pytest.raises(FormatError):
            fetch_master(night, name)
    with pytest.raises(DfosError, match="not in the archive"):
        fetch_masters(night, ["2013-02-11/UV_MBIA_130211A_BLUE.fits"], parallel=2)


def test_mcal_down_lists_missing_masters_and_brings_them_back(night: Workspace) -> None:
    archived = _certify_earlier_master(night, b"SIMPLE  =                    T")
    create_abs(night, NIGHT, "CALIB")
    assert [c.sof_path for c in load_ab(night, DARK).mcalib] == [f"$DFO_CAL_DIR/{MASTER}"]
    abs_ = [load_ab(night, DARK)]
    assert missing_masters(night, abs_) == [MASTER]
    files = create_job(night, NIGHT, "CALIB")
    assert files.mcal_down == night.job_dir / "mcalDown_CALIB_2013-02-12"
    job = (night.job_dir / "JOBS_NIGHT").read_text()
    assert job.index("rawDown_") < job.index("mcalDown_") < job.index("exec-cascade")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DFOS_")}
    done = subprocess.run([str(files.mcal_down)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (night.cal_dir / MASTER).read_bytes() == archived.read_bytes()
    assert missing_masters(night, abs_) == []
    assert create_job(night, NIGHT, "CALIB").mcal_down is None  # nothing left to fetch: no file
    assert not (night.job_dir / "mcalDown_CALIB_2013-02-12").exists()


@pytest.mark.esorex
def test_process_ab_fetches_a_master_the_cascade_did_not(night: Workspace) -> None:
    run = process_ab(night, BIAS)  # a real master bias to certify
    assert run.ok, run.message
    bias = load_ab(night, BIAS)
    product = night.expand(bias.prod_path) / bias.products[0].name
    archived = _certify_earlier_master(night, product.read_bytes())
    create_abs(night, NIGHT, "CALIB")
    run = process_ab(night, DARK)
    assert run.ok, run.message
    assert (night.cal_dir / MASTER).read_bytes() == archived.read_bytes()
    (night.cal_dir / MASTER).unlink()
    archived.unlink()
    run = process_ab(night, DARK)
    assert (run.status, run.failure) == ("FAILED", "missing_input")
    assert "UV_MBIA_130210A_BLUE.fits is missing (a master of the calibration memory, not in the archive)" \
        in run.message


def test_a_master_name_that_is_a_path_is_refused(night: Workspace) -> None:
    from dfos.archive.local import LocalArchive
    from dfos.errors import UnsafeName
    from dfos.steps.fetch import fetch_master

    with pytest.raises(UnsafeName):
        fetch_master(night, "2013-02-12/../../../../tmp/pwn.fits")
    with pytest.raises(UnsafeName):
        LocalArchive(night.archive_dir).master_path(NIGHT, ".hidden")
