"""``dfos cleanup -E [--apply]`` (issue 19, item 5) on real FITS files: ingested products of a finished date,
raw frames of a finished date, stray FITS; only files whose bytes the archive holds go, and only with --apply;
static calibrations, the calibration memory, working products and unfinished dates are never touched."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from dfos.cli.main import main
from dfos.steps.cleanup_e import INGESTED, RAW, STRAY, find_candidates
from dfos.steps.ingest import WorkspaceArchive
from dfos.workspace import Workspace

DAY, OPEN = "2013-02-12", "2013-02-13"
MASTER, TAMPERED, LATER = "UV_MBIA_130212A_BLUE.fits", "UV_MDAR_130212A_BLUE.fits", "UV_MBIA_130213A_BLUE.fits"
RAW_FRAME, LOST_FRAME = "UVES.2013-02-12T18:05:00.500.fits", "UVES.2013-02-12T18:06:00.500.fits"


def _fits(path: Path, seed: int, catg: str = "MASTER_BIAS_BLUE") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = fits.Header()
    header["HIERARCH ESO PRO CATG"] = catg
    fits.PrimaryHDU(np.random.default_rng(seed).normal(size=(16, 16)).astype(np.float32), header).writeto(path)
    return path


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()
            and not p.name.startswith("dfos.sqlite")}  # the database: cleanup claims it (dfos.steps.sharing)


@pytest.fixture
def cluttered(workspace: Workspace) -> Workspace:
    ws = workspace
    archive = WorkspaceArchive(ws)
    for day, name, seed in ((DAY, MASTER, 1), (DAY, TAMPERED, 2), (OPEN, LATER, 3)):
        archive.ingest(_fits(ws.cal_dir / day / name, seed), datetime.fromisoformat(day).date(), "CALIB", "x.ab",
                       "MASTER_BIAS_BLUE")
    with fits.open(ws.cal_dir / DAY / TAMPERED, mode="update") as hdul:  # other bytes than the archived ones
        hdul[0].data[0, 0] += 1
    static = _fits(ws.cal_dir / "GEN" / "UV_STATIC.fits", 4, "STATIC")
    archive.ingest(static, datetime(2013, 2, 12).date(), "CALIB", "", "STATIC")
    _fits(ws.archive_dir / DAY / RAW_FRAME, 5, "")
    (ws.raw_dir / DAY).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ws.archive_dir / DAY / RAW_FRAME, ws.raw_dir / DAY / RAW_FRAME)
    _fits(ws.raw_dir / DAY / LOST_FRAME, 6, "")  # the archive never had it
    shutil.copyfile(ws.cal_dir / DAY / MASTER, ws.lst_dir / MASTER)  # a stray copy of an archived master
    _fits(ws.mon_dir / "junk.fits", 7)  # a stray the archive does not hold
    _fits(ws.mcal_dir / DAY / "memory.fits", 8)
    _fits(ws.path("DFS_PRODUCT") / "CALIB" / DAY / "r.work.fits", 9)
    _fits(ws.work_root / "run1" / "r.tmp.fits", 10)
    (ws.log_dir / DAY).mkdir(parents=True, exist_ok=True)
    (ws.log_dir / DAY / "link.fits").symlink_to(ws.cal_dir / DAY / MASTER)
    ws.status_log.append("finished", DAY, datetime(2013, 2, 13, 14, 0))
    return ws


def test_the_list_names_each_file_with_why_and_removes_nothing(cluttered: Workspace,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    ws = cluttered
    found = {c.path: c for c in find_candidates(ws)}
    assert set(found) == {ws.cal_dir / DAY / MASTER, ws.cal_dir / DAY / TAMPERED, ws.raw_dir / DAY / RAW_FRAME,
                          ws.raw_dir / DAY / LOST_FRAME, ws.lst_dir / MASTER, ws.mon_dir / "junk.fits"}
    assert found[ws.cal_dir / DAY / MASTER].kind == INGESTED and found[ws.raw_dir / DAY / RAW_FRAME].kind == RAW
    assert found[ws.mon_dir / "junk.fits"].kind == STRAY and "$DFO_MON_DIR" in found[ws.mon_dir / "junk.fits"].why
    assert not found[ws.raw_dir / DAY / LOST_FRAME].archived and found[ws.lst_dir / MASTER].archived
    assert found[ws.cal_dir / DAY / MASTER].size == (ws.cal_dir / DAY / MASTER).stat().st_size

    before = _tree(ws.root)
    capsys.readouterr()
    assert main(["--root", str(ws.root), "cleanup", "-E"]) == 0
    out = capsys.readouterr()
    assert len(out.out.splitlines()) == 6 and str(ws.mon_dir / "junk.fits") in out.out and "--apply" in out.err
    assert _tree(ws.root) == before  # listing removes nothing
    assert main(["--root", str(ws.root), "cleanup"]) == 2  # neither -d nor -E
    assert main(["--root", str(ws.root), "cleanup", "-E", "-d", DAY]) == 2


def test_apply_removes_only_what_the_archive_holds_with_the_same_checksum(cluttered: Workspace,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    ws = cluttered
    archive_before = _tree(ws.archive_dir)
    untouched = [ws.cal_dir / "GEN" / "UV_STATIC.fits", ws.cal_dir / OPEN / LATER, ws.mcal_dir / DAY / "memory.fits",
                 ws.path("DFS_PRODUCT") / "CALIB" / DAY / "r.work.fits", ws.work_root / "run1" / "r.tmp.fits",
                 ws.cal_dir / DAY / TAMPERED, ws.raw_dir / DAY / LOST_FRAME, ws.mon_dir / "junk.fits"]
    sums = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in untouched}
    capsys.readouterr()
    assert main(["--root", str(ws.root), "cleanup", "-E", "--apply", "--json"]) == 0
    rows = {Path(r["path"]): r for r in json.loads(capsys.readouterr().out)}
    removed = {p for p, r in rows.items() if r["removed"]}
    assert removed == {ws.cal_dir / DAY / MASTER, ws.raw_dir / DAY / RAW_FRAME, ws.lst_dir / MASTER}
    assert "checksums differ" in rows[ws.cal_dir / DAY / TAMPERED]["kept"]
    assert "does not hold" in rows[ws.raw_dir / DAY / LOST_FRAME]["kept"]
    assert "does not hold" in rows[ws.mon_dir / "junk.fits"]["kept"]
    assert not any(p.exists() for p in removed)
    hdr = ws.cal_dir / DAY / MASTER.replace(".fits", ".hdr")
    assert "MASTER_BIAS_BLUE" in hdr.read_text()  # a product is replaced by its header, as cleanup -d does
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in untouched} == sums
    assert _tree(ws.archive_dir) == archive_before and (ws.log_dir / DAY / "link.fits").is_symlink()
    # again: what was removed is not listed any more, the kept ones still are
    assert {c.path for c in find_candidates(ws)} == {ws.cal_dir / DAY / TAMPERED, ws.raw_dir / DAY / LOST_FRAME,
                                                      ws.mon_dir / "junk.fits"}


def test_a_broken_archived_copy_keeps_the_local_file(cluttered: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    ws = cluttered
    entry = WorkspaceArchive(ws).lookup(MASTER)
    assert entry is not None
    Path(entry.path).write_bytes(b"damaged")
    capsys.readouterr()
    assert main(["--root", str(ws.root), "cleanup", "-E", "--apply", "--json"]) == 0
    rows = {Path(r["path"]): r for r in json.loads(capsys.readouterr().out)}
    assert "no longer has its recorded checksum" in rows[ws.cal_dir / DAY / MASTER]["kept"]
    assert (ws.cal_dir / DAY / MASTER).is_file() and (ws.lst_dir / MASTER).is_file()
