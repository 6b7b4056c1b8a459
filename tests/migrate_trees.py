"""What the migrate tests migrate: the small UVES night processed with real esorex in an old workspace, and a
DFOS installation tree written from it (ABs in DFOS format with the old machine's absolute paths, DFO_STATUS, an
AB list, .hdr headers, a QC1 text export), as ESO's shell DFOS would have left it."""

from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path

from sqlalchemy import select

from dfos.ab.format import with_status
from dfos.ab.model import ProcessStatus
from dfos.db import engine_for_url, qc1_params
from dfos.workspace import Workspace, init_workspace
from nights import NIGHT, process_night

#: Where the old DFOS machine kept its data (absolute paths in its ABs and .dfosrc).
OLD_DATA = "/fujisan3/data/uves"
#: A path in one AB of the tree that lies in no directory of the tree.
STRAY = "/scratch/elsewhere/UVES.2013-02-12T18:05:00.500.fits"
EXTRA_AB = "UVES.2013-02-12T23:59:00.000_tpl.ab"


def link_archive(archive: Path, into: Path) -> None:
    """The night's raw FITS hard-linked into another archive directory (as the uves_night fixture does)."""
    for source in archive.rglob("*.fits"):
        target = into / source.relative_to(archive)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            os.link(source, target)


def processed_old(base: Path, archive: Path) -> Workspace:
    """A workspace that processed the night, with a static calibration (GEN) and an old dated log directory."""
    from astropy.io import fits

    ws, _ = init_workspace(base / "old", env={}, instrument="UVES")
    link_archive(archive, ws.archive_dir)
    ws = process_night(ws)
    gen = ws.cal_dir / "GEN"
    gen.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(header=fits.Header([("HIERARCH ESO PRO CATG", "STD_CATALOG")])).writeto(gen / "UV_GSTD_std.fits")
    (gen / "UV_GSTD_std.hdr").write_text("HIERARCH ESO PRO CATG = 'STD_CATALOG'\n", encoding="utf-8")
    old_logs = ws.log_dir / "2012-06-01"
    old_logs.mkdir(parents=True)
    (old_logs / "old.log").write_text("a log of 2012\n", encoding="utf-8")
    (ws.log_dir / "2013-02-12").mkdir(exist_ok=True)
    (ws.log_dir / "2013-02-12" / "recent.log").write_text("a log of the night\n", encoding="utf-8")
    return ws


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_sums(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` (by path relative to it)."""
    return {str(p.relative_to(root)): sha(p) for p in sorted(root.rglob("*")) if p.is_file()}


def _dfos_ab(text: str) -> str:
    """A dfos AB as the old DFOS machine wrote it: absolute paths of its directories, not yet processed."""
    for var, name in (("DFO_RAW_DIR", "raw"), ("DFO_CAL_DIR", "calib"), ("DFS_PRODUCT", "products")):
        text = text.replace(f"${var}/", f"{OLD_DATA}/{name}/")
    return with_status(text, ProcessStatus.CREATED) or text


def write_dfos_tree(old: Workspace, root: Path) -> Path:
    """The DFOS tree of the night (see the module) in ``root``."""
    (root / "AB").mkdir(parents=True)
    (root / ".dfosrc").write_text(
        "# DFOS resource file of uves@fujisan3\n"
        "export DFO_INSTRUMENT=UVES\n"
        f"export DFO_ROOT_DIR={OLD_DATA}\n"
        "export DFO_RAW_DIR=$DFO_ROOT_DIR/raw\n"
        "export DFO_CAL_DIR=${DFO_ROOT_DIR}/calib\n"
        "export DFS_PRODUCT=$DFO_ROOT_DIR/products\n"
        "export DFO_AB_DIR=$DFO_ROOT_DIR/AB\n"
        "export DFO_HDR_DIR=$DFO_ROOT_DIR/headers\n"
        "export DFO_MON_DIR=/home/uves/monitor\n", encoding="utf-8")
    for ab in sorted(old.ab_dir.glob("*.ab")):
        (root / "AB" / ab.name).write_text(_dfos_ab(ab.read_text(encoding="utf-8")), encoding="utf-8")
    first = sorted(old.ab_dir.glob("*.ab"))[0].read_text(encoding="utf-8")
    stray = _dfos_ab(first).replace(f"{OLD_DATA}/raw/2013-02-12/UVES.2013-02-12T18:05:00.500.fits", STRAY, 1)
    (root / "AB" / EXTRA_AB).write_text(stray, encoding="utf-8")
    monitor = root / "monitor"
    monitor.mkdir()
    status = old.status_log.path.read_text(encoding="utf-8")
    (monitor / "DFO_STATUS").write_text(status + "HDR 2013-02-12 12.5\n", encoding="utf-8")
    ab_list = old.ab_list("CALIB", NIGHT).read_text(encoding="utf-8").replace("  DONE", "")
    (monitor / "AB_list_CALIB_2013-02-12").write_text(ab_list, encoding="utf-8")
    for sub in ("headers/2013-02-12", "calib/VCAL/2013-02-12"):
        source = old.root / sub
        (root / sub).mkdir(parents=True)
        for hdr in source.glob("*.hdr"):
            (root / sub / hdr.name).write_bytes(hdr.read_bytes())
    _qc1_export(old, root / "qc1" / "uves_calib.csv")
    return root


def qc1_rows(ws: Workspace) -> list[dict[str, object]]:
    with engine_for_url(ws.db_url).connect() as conn:
        return [dict(r) for r in conn.execute(select(qc1_params).order_by(qc1_params.c.ab, qc1_params.c.name))
                .mappings()]


def _qc1_export(old: Workspace, path: Path) -> None:
    path.parent.mkdir(parents=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write("# QC1 parameters of UVES, exported from the QC1 database\n")
        writer = csv.writer(handle)
        writer.writerow(["date", "ab", "product", "pro_catg", "raw_type", "setup", "mjd_obs", "parameter", "value",
                         "unit", "score"])
        for row in qc1_rows(old):
            writer.writerow([row["date"], row["ab"], row["product"], row["pro_catg"], row["raw_type"], row["setup"],
                             row["mjd_obs"], row["name"], row["text"], row["unit"],
                             "" if row["score"] is None else row["score"]])
        writer.writerow(["2013-02-30", "bad.ab", "", "", "", "", "", "QC BAD", "1", "", ""])
