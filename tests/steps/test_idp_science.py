"""IDP mode on the small NACO night (real esorex): in a phoenix workspace (or with IDP_MODE) move -m SCIENCE
writes ESO's SDP keywords into the certified science products before it moves them; the archive catalog
holds the checksum of the final file; a second move changes nothing; UPDATE_YN decides whether an earlier
product in $DFO_SCI_DIR/<DATE> may be replaced.  A dfos_ops workspace's products stay as they were."""

from __future__ import annotations

import math
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from sqlalchemy import select

from dfos.db import archive_catalog, engine_for_url, qc1_params
from dfos.errors import StateError
from dfos.keys import Mode
from dfos.steps.certify import Decision, certify
from dfos.steps.idp import apply_idp
from dfos.steps.ingest import ingest
from dfos.steps.move import move
from dfos.steps.process_ab import load_ab
from dfos.steps.safe_move import sha256
from dfos.workspace import Workspace, open_workspace
from naco_night import CALIB_ABS, FIELD_ABS, NIGHT, NOW, SCENES, SCIENCE_ABS

pytestmark = pytest.mark.esorex

FIELD1 = next(iter(FIELD_ABS.values()))
NAME1 = "NA_SCOA_130213T013000_Ks.fits"


def _copy(night: Workspace, tmp_path: Path, **env: str) -> Workspace:
    shutil.copytree(night.root, tmp_path / "ws", symlinks=True)
    return open_workspace(tmp_path / "ws", env={"DFOS_NOW": NOW, **env})


def _certify(ws: Workspace) -> None:
    assert certify(ws, Mode.CALIB, NIGHT, [Decision(ab, "certified") for ab in CALIB_ABS], user="qc").certified_flag
    move(ws, Mode.CALIB, NIGHT)
    assert certify(ws, Mode.SCIENCE, NIGHT, [Decision(ab, "certified") for ab in SCIENCE_ABS],
                   user="qc").certified_flag


def _product(ws: Workspace, ab_name: str) -> Path:
    ab = load_ab(ws, ab_name)
    return ws.expand(ab.prod_path) / f"{ab.prod_root}_0000.fits"


def _qc(ws: Workspace, ab: str) -> dict[str, tuple[float | None, str | None]]:
    with engine_for_url(ws.db_url).begin() as db:
        rows = db.execute(select(qc1_params.c.name, qc1_params.c.value, qc1_params.c.text)
                          .where(qc1_params.c.ab == ab)).all()
    return {name: (value, text) for name, value, text in rows}


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha256(p) for p in sorted(root.rglob("*")) if p.is_file()}


def test_phoenix_science_products_become_idps(naco_night: Workspace, tmp_path: Path) -> None:
    ws = _copy(naco_night, tmp_path, DFOS_FLAVOUR="phoenix")
    _certify(ws)
    made = {ab: fits.getdata(_product(ws, ab)) for ab in SCIENCE_ABS}
    raws = {ab: [fits.getheader(ws.expand(r.ref)) for r in load_ab(ws, ab).rawfiles] for ab in SCIENCE_ABS}
    qc = {ab: _qc(ws, ab) for ab in SCIENCE_ABS}
    moved = move(ws, Mode.SCIENCE, NIGHT)
    sci = ws.sci_dir / NIGHT.isoformat()
    assert len(moved.masters) == len(SCIENCE_ABS) and moved.masters[0] == NAME1
    for ab, name in zip(SCIENCE_ABS, moved.masters, strict=True):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a stale CHECKSUM or DATASUM would warn
            with fits.open(sci / name, checksum=True) as hdul:
                header = hdul[0].header
                assert np.array_equal(hdul[0].data, made[ab], equal_nan=True)  # the pixels the recipe made
        frames = raws[ab]
        assert [header[f"PROV{i}"] for i in range(1, len(frames) + 1)] == [f["ARCFILE"] for f in frames]
        assert f"PROV{len(frames) + 1}" not in header and header["NCOMBINE"] == len(frames) == 5
        assert header["TEXPTIME"] == pytest.approx(sum(f["EXPTIME"] for f in frames))
        assert header["MJD-OBS"] == pytest.approx(min(f["MJD-OBS"] for f in frames), abs=1e-9)
        assert header["MJD-END"] == pytest.approx(max(f["MJD-OBS"] + f["EXPTIME"] / 86400 for f in frames), abs=1e-9)
        assert (header["PRODCATG"], header["FLUXCAL"], header["PHOTSYS"], header["PROCSOFT"], header["ORIGIN"]) == \
            ("SCIENCE.IMAGE", "ABSOLUTE", "VEGA", "naco/4.4.11", "ESO")
        assert header["OBID1"] == frames[0]["HIERARCH ESO OBS ID"] and header["PROG_ID"] == "090.C-0456(A)"
        assert header["FILTER"] == frames[0]["HIERARCH ESO INS OPTI6 NAME"] and header["OBSTECH"] == "IMAGE,JITTER"
        # the zero point QC found for the coadd (1 ADU/s), for pixels in ADU of one DIT
        dit = frames[0]["HIERARCH ESO DET DIT"]
        zero_point = float(qc[ab]["QC ZPOINT"][0] or "nan")
        assert header["PHOTZP"] == pytest.approx(zero_point + 2.5 * math.log10(dit), abs=1e-5)
        assert header["PSF_FWHM"] == pytest.approx(qc[ab]["QC FWHM ARCSEC"][0])
        assert "ABMAGLIM" not in header and "CTYPE1" not in header  # no source: left out

    # PHOTZP is right for the pixels: the star QC STREHL measured has an injected magnitude
    star = re.search(r"flux=([0-9.]+)", str(qc[FIELD1]["QC STREHL STAR"][1]))
    assert star is not None
    mag = -2.5 * math.log10(float(star.group(1))) + fits.getheader(sci / NAME1)["PHOTZP"]
    assert min(abs(mag - s.mag) for s in SCENES[FIELD1].stars) < 0.05

    # ingest records the checksum of the final file; a second move changes nothing
    ingest(ws, Mode.SCIENCE, NIGHT)
    with engine_for_url(ws.db_url).begin() as db:
        catalog = {r.name: r.sha256 for r in db.execute(select(archive_catalog))}
    assert {name: catalog[name] for name in moved.masters} == {name: sha256(sci / name) for name in moved.masters}
    before = _tree(ws.root)
    assert move(ws, Mode.SCIENCE, NIGHT).already_done and _tree(ws.root) == before


def test_a_second_run_of_the_keywords_changes_nothing_and_dfos_ops_products_stay(naco_night: Workspace,
                                                                                 tmp_path: Path) -> None:
    ws = _copy(naco_night, tmp_path)  # dfos_ops, IDP_MODE off
    _certify(ws)
    made = sha256(_product(ws, FIELD1))
    moved = move(ws, Mode.SCIENCE, NIGHT)
    certified = ws.sci_dir / NIGHT.isoformat() / moved.masters[0]
    assert sha256(certified) == made and "PRODCATG" not in fits.getheader(certified)

    ws = _copy(naco_night, tmp_path / "idp", DFOS_IDP_MODE="yes")  # dfos_ops with IDP_MODE
    ab = load_ab(ws, FIELD1)
    first = apply_idp(ws, [ab], {FIELD1: True})
    stamped = sha256(_product(ws, FIELD1))
    assert [p.changed for p in first] == [True] and stamped != made
    again = apply_idp(ws, [ab], {FIELD1: True})
    assert [p.changed for p in again] == [False] and sha256(_product(ws, FIELD1)) == stamped
    assert apply_idp(ws, [ab], {FIELD1: False}) == []  # a rejected AB's products are never touched


def test_update_yn_decides_whether_an_earlier_idp_is_replaced(naco_night: Workspace, tmp_path: Path) -> None:
    ws = _copy(naco_night, tmp_path, DFOS_FLAVOUR="phoenix")
    _certify(ws)
    sci = ws.sci_dir / NIGHT.isoformat()
    sci.mkdir(parents=True)
    earlier = sci / NAME1
    fits.PrimaryHDU(np.zeros((4, 4), dtype=np.float32), fits.Header([("PRODCATG", "SCIENCE.IMAGE")])) \
        .writeto(earlier)
    old = sha256(earlier)
    products = _tree(ws.path("DFS_PRODUCT"))
    with pytest.raises(StateError, match=rf"{NAME1} is an earlier product .* UPDATE_YN is NO: set UPDATE_YN=YES"):
        move(ws, Mode.SCIENCE, NIGHT)
    assert sha256(earlier) == old and sorted(p.name for p in sci.iterdir()) == [NAME1]  # nothing moved, no plan
    assert len(_tree(ws.path("DFS_PRODUCT"))) == len(products)

    ws = open_workspace(ws.root, env={"DFOS_NOW": NOW, "DFOS_FLAVOUR": "phoenix", "DFOS_UPDATE_YN": "yes"})
    moved = move(ws, Mode.SCIENCE, NIGHT)
    assert NAME1 in moved.masters and sha256(earlier) != old
    header = fits.getheader(earlier)
    assert header["PROV1"] == "NACO.2013-02-13T01:30:00.512.fits" and header["NCOMBINE"] == 5
