"""processQC on the small NACO night processed with real esorex (tests/naco_night.py): the QC of the dark,
flats, standard stars and science coadds recovers the injected truth, every score is green, and SCIENCE
ABs are measured, stored and scored exactly as CALIB ones (QC inside each AB, QCBQS_TYPE IMPLICIT)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from sqlalchemy import select

from dfos.db import ab_qc, ab_runs, certifications, engine_for_url, qc1_params
from dfos.instruments.naco import ZERO_POINT, Naco
from dfos.keys import BatchId, Mode
from dfos.qc.imaging import diffraction_psf
from dfos.qc.naco import NacoCoadd
from dfos.qc.procedures import ProductContext
from dfos.steps.process_ab import load_ab
from dfos.steps.process_qc import qc_log
from dfos.steps.score import score_date, threshold_file
from dfos.synth.imaging import DARK_ADU, FLAT_RMS, HOT_PIXELS_PER_MPIX, RON_ADU
from dfos.workspace import Workspace
from naco_night import CALIB_ABS, DARK, FIELD_ABS, FLAT, NIGHT, SCENES, SCIENCE_ABS, STD

pytestmark = pytest.mark.esorex

PIXSCALE = float(Naco().arms(True)["CONICA"].keywords["INS.PIXSCALE"])
SIZE = 512  # the small night


def _params(ws: Workspace, ab: str, product_suffix: str = "_0000.fits") -> dict[str, dict[str, object]]:
    """The QC1 parameters of an AB's product, by name, as stored."""
    with engine_for_url(ws.db_url).begin() as db:
        rows = db.execute(select(qc1_params).where(qc1_params.c.ab == ab)).mappings().all()
    return {str(r["name"]): dict(r) for r in rows if str(r["product"]).endswith(product_suffix)}


def _value(ws: Workspace, ab: str, name: str) -> float:
    value = _params(ws, ab)[name]["value"]
    assert isinstance(value, float), (ab, name, value)
    return value


def test_the_dark_qc_recovers_the_injected_detector(naco_night: Workspace) -> None:
    assert _value(naco_night, DARK, "QC RON1") == pytest.approx(RON_ADU, rel=0.05)
    assert _value(naco_night, DARK, "QC DARKMED") == pytest.approx(DARK_ADU, abs=0.5)
    assert _value(naco_night, DARK, "QC NBHOTPIX") == round(HOT_PIXELS_PER_MPIX * SIZE * SIZE / 1e6)


@pytest.mark.parametrize("band", ["Ks", "H"])
def test_the_flat_and_the_zero_point_recover_the_injected_truth(naco_night: Workspace, band: str) -> None:
    assert _value(naco_night, FLAT[band], "QC FLAT MEAN") == pytest.approx(1.0, abs=0.01)
    assert _value(naco_night, FLAT[band], "QC FLAT RMS") == pytest.approx(FLAT_RMS, rel=0.1)
    assert _value(naco_night, STD[band], "QC ZPOINT") == pytest.approx(ZERO_POINT[band], abs=0.05)
    assert 0.02 < _value(naco_night, STD[band], "QC STREHL") < 1.0


def _gaussian_strehl(fwhm: float, wavelength: float) -> float:
    """The Strehl ratio of the injected PSF: a Gaussian's peak (its light on the pixel centred on it, as
    rendered) over the diffraction limit's within the aperture dfos measures in (3 FWHM)."""
    sigma = fwhm / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    psf = diffraction_psf(wavelength, PIXSCALE)
    centre = psf.shape[0] // 2
    yy, xx = np.indices(psf.shape)
    ideal = psf[centre, centre] / psf[np.hypot(yy - centre, xx - centre) <= 3 * fwhm].sum()
    return float(1.0 / (2.0 * math.pi * sigma**2) / ideal)


@pytest.mark.parametrize("field", sorted(FIELD_ABS))
def test_the_science_coadd_qc_recovers_the_injected_truth(naco_night: Workspace, field: str) -> None:
    ab = FIELD_ABS[field]
    truth = SCENES[ab]
    measured = _params(naco_night, ab)
    assert measured["QC FWHM PIX"]["value"] == pytest.approx(truth.fwhm_px, rel=0.05)
    assert measured["QC FWHM ARCSEC"]["value"] == pytest.approx(truth.fwhm_px * PIXSCALE, rel=0.05)
    # naco_img_jitter gets no dark (ESO's naco.oca): its background is the sky plus the dark level
    assert measured["QC BACKGD"]["value"] == pytest.approx(truth.sky_adu + DARK_ADU, rel=0.02)
    assert measured["QC ZPOINT"]["value"] == pytest.approx(ZERO_POINT[truth.filter], abs=0.05)
    assert measured["QC ZPOINT"]["value"] == _value(naco_night, STD[truth.filter], "QC ZPOINT")
    assert measured["QC NSOURCES"]["value"] == len(truth.stars)
    assert measured["QC NSOURCES FWHM"]["value"] == len(truth.stars)
    wavelength = float(truth.keywords["INS.CWLEN"])
    assert measured["QC STREHL"]["value"] == pytest.approx(_gaussian_strehl(truth.fwhm_px, wavelength), rel=0.05)
    assert measured["QC STREHL STD"]["value"] == _value(naco_night, STD[truth.filter], "QC STREHL")
    assert all(measured[n]["source"] == "procedure:naco_coadd" for n in ("QC NSOURCES", "QC ZPOINT", "QC STREHL"))
    assert all(measured[n]["source"] == "header" for n in ("QC FWHM PIX", "QC BACKGD"))


@pytest.mark.parametrize("field", sorted(FIELD_ABS))
def test_the_zero_point_names_the_standard_star_of_its_filter(naco_night: Workspace, field: str) -> None:
    ab = FIELD_ABS[field]
    standard = load_ab(naco_night, STD[SCENES[ab].filter])
    source = _params(naco_night, ab)["QC ZPOINT SOURCE"]
    assert source["text"] == f"{standard.prod_path}/{standard.prod_root}_0000.fits" and source["value"] is None
    assert f"made by {standard.name}" in str(source["description"])
    log = qc_log(naco_night, ab).read_text()
    assert f"  QC ZPOINT SOURCE = {source['text']}\n" in log
    assert f"  QC NSOURCES SOURCE = {load_ab(naco_night, ab).log_name}\n" in log


def test_every_score_of_the_truthful_night_is_green_and_certified(naco_night: Workspace) -> None:
    with engine_for_url(naco_night.db_url).begin() as db:
        verdicts = {r.ab: (r.verdict, r.n_scored, r.n_red) for r in db.execute(select(ab_qc))}
        decisions = {r.ab: (r.decision, r.by) for r in db.execute(select(certifications)
                                                                    .order_by(certifications.c.id))}
    assert set(verdicts) == set(CALIB_ABS + SCIENCE_ABS)
    assert all(verdict == "green" and scored > 0 and red == 0 for verdict, scored, red in verdicts.values()), verdicts
    assert verdicts[FIELD_ABS["SYN_FIELD_1"]][1] == 7  # FWHM x2, BACKGD, NSOURCES, ZPOINT, STREHL, STREHL STD
    assert decisions == {ab: ("certified", "auto") for ab in CALIB_ABS + SCIENCE_ABS}


def test_science_abs_are_measured_stored_and_scored_like_calib_ones(naco_night: Workspace) -> None:
    with engine_for_url(naco_night.db_url).begin() as db:
        batches = {r.ab: r.batch_id for r in db.execute(select(qc1_params.c.ab, qc1_params.c.batch_id).distinct())}
        summary = {r.ab: r.batch_id for r in db.execute(select(ab_qc.c.ab, ab_qc.c.batch_id))}
        plots = {r.ab: str(r.plots).splitlines() for r in db.execute(select(ab_qc.c.ab, ab_qc.c.plots))}
        messages = [r.message or "" for r in db.execute(select(ab_runs.c.message))]
    for mode, names in ((Mode.CALIB, CALIB_ABS), (Mode.SCIENCE, SCIENCE_ABS)):
        expected = BatchId.of(mode, NIGHT).render()
        assert {batches[n] for n in names} == {summary[n] for n in names} == {expected}
    assert not any("processQC failed" in m for m in messages)  # QC ran inside every AB (IMPLICIT)
    for name in (*SCIENCE_ABS, STD["Ks"], DARK):
        (png,) = plots[name]
        assert Path(png).name == f"{load_ab(naco_night, name).prod_root}_0000.png"
        assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert qc_log(naco_night, name).read_text().splitlines()[-1].startswith("score 0/")


def test_process_qc_of_a_science_ab_runs_again_from_the_command_line(naco_night: Workspace,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from dfos.cli.main import main

    ab = FIELD_ABS["SYN_FIELD_2"]
    before = _params(naco_night, ab)
    assert main(["--root", str(naco_night.root), "process-qc", "-a", ab]) == 0
    assert capsys.readouterr().out.startswith(f"{ab}: {len(before)} QC1 parameters of 1 products; score 0/7")
    after = _params(naco_night, ab)
    assert {n: (r["value"], r["text"]) for n, r in after.items()} == {n: (r["value"], r["text"])
                                                                      for n, r in before.items()}


def test_without_a_standard_star_the_coadd_says_so(naco_night: Workspace) -> None:
    """processQC of a science AB before the night's zero point exists (its AB has not run yet)."""
    ab = load_ab(naco_night, FIELD_ABS["SYN_FIELD_1"])
    path = naco_night.expand(ab.prod_path) / f"{ab.prod_root}_0000.fits"
    with fits.open(path) as hdul:
        product = ProductContext(path, "COADDED_IMG", ab.raw_type, hdul[0].header.copy(), hdul[0].data, (), None,
                                 ab.date)  # no recipe log, an empty calibration memory
    found = {p.name: p for p in NacoCoadd().measure(product)}
    assert "QC ZPOINT" not in found and "QC NSOURCES" not in found
    assert found["QC ZPOINT SOURCE"].text == "none: no ZPOINT_TABLE of Ks (S27) in the calibration memory of 2013-02-12"
    assert found["QC NSOURCES SOURCE"].text == "none: no recipe log"
    assert found["QC STREHL"].value is not None  # measured on the coadd alone


def test_a_stricter_threshold_file_turns_the_science_red(naco_night: Workspace) -> None:
    shipped = Path(__file__).resolve().parents[2] / "src" / "dfos" / "qc" / "thresholds" / "NACO.toml"
    own = threshold_file(naco_night)
    own.write_text(shipped.read_text(encoding="utf-8").replace("high = 0.35 ", "high = 0.1 "), encoding="utf-8")
    try:
        strict = score_date(naco_night, NIGHT)
        assert {ab: strict.verdicts[ab] for ab in SCIENCE_ABS} == {ab: "red" for ab in SCIENCE_ABS}
        assert all(strict.verdicts[ab] == "green" for ab in CALIB_ABS)
        assert set(strict.withdrawn) == set(SCIENCE_ABS) and strict.summaries[SCIENCE_ABS[0]] == "1/7"
        red = _params(naco_night, SCIENCE_ABS[0])["QC FWHM ARCSEC"]
        assert (red["score"], red["high"]) == (1, 0.1)
    finally:
        own.unlink()
    again = score_date(naco_night, NIGHT)
    assert set(again.certified) == set(SCIENCE_ABS) and set(again.verdicts.values()) == {"green"}
