"""Static calibrations in $DFO_CAL_DIR/GEN: NACO's standard-star catalogue, made by ESO's utility recipe."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from astropy.io import fits

from dfos.errors import StateError
from dfos.instruments.naco import STANDARD, Naco
from dfos.steps.create_ab import create_abs
from dfos.steps.demo_data import write_demo_headers
from dfos.steps.static_calib import gen_dir, install_static
from dfos.workspace import init_workspace, open_workspace

pytestmark = pytest.mark.esorex

DAY = date(2013, 2, 12)


def test_the_catalogue_is_made_from_the_truth_and_kept(tmp_path: Path) -> None:
    ws, _ = init_workspace(tmp_path / "ws", env={}, instrument="NACO")
    first = install_static(ws, Naco())
    assert first.installed == ("NA_GSTD_SYNTH.fits",) and first.kept == ()
    made = gen_dir(ws) / "NA_GSTD_SYNTH.fits"
    with fits.open(made) as hdul:
        assert hdul[0].header["HIERARCH ESO PRO CATG"] == "IMG_STD_CATALOG"
        table = hdul[1].data
        row = table[0]
        assert row["STARS"].strip() == STANDARD[0] and row["RA"] == pytest.approx(STANDARD[1])
        assert row["DEC"] == pytest.approx(STANDARD[2]) and row["Ks"] == pytest.approx(STANDARD[4]["Ks"])
    assert made.with_suffix(".hdr").read_text().startswith("SIMPLE")
    stamp = made.stat().st_mtime_ns
    again = install_static(ws, Naco())
    assert again.installed == () and again.kept == ("NA_GSTD_SYNTH.fits",) and made.stat().st_mtime_ns == stamp


def test_createab_offers_static_calibrations_to_every_date(tmp_path: Path) -> None:
    ws, _ = init_workspace(tmp_path / "ws", env={}, instrument="NACO")
    write_demo_headers(ws, DAY)
    before = {ab.recipe: ab for ab in create_abs(ws, DAY, "CALIB").abs}
    assert any("IMG_STD_CATALOG" in reason for reason in before["naco_img_zpoint"].missing)
    install_static(ws, Naco())
    later = date(2014, 7, 1)  # a date far from when it was made: static calibrations have no date window
    write_demo_headers(ws, later)
    for day in (DAY, later):
        zpoint = next(ab for ab in create_abs(ws, day, "CALIB").abs if ab.recipe == "naco_img_zpoint")
        assert zpoint.completeness.value == "COMPLETE"
        assert [(c.tag, c.sof_path) for c in zpoint.mcalib] == [
            ("IMG_STD_CATALOG", "$DFO_CAL_DIR/GEN/NA_GSTD_SYNTH.fits")]


def test_a_failing_recipe_leaves_nothing_behind(tmp_path: Path) -> None:
    init_workspace(tmp_path / "ws", env={}, instrument="NACO")
    ws = open_workspace(tmp_path / "ws", env={"DFOS_ESOREX": "false"})
    with pytest.raises(StateError, match="naco_util_img_std_cat did not make IMG_STD_CATALOG"):
        install_static(ws, Naco())
    assert not list(gen_dir(ws).glob("*"))
