"""The SDP keywords of a science image (dfos.qc.idp): what each one is computed from, and that a keyword
without a source is left out and listed, never invented."""

from __future__ import annotations

import math

from dfos.instruments.naco import Naco
from dfos.qc.idp import IdpKeywords, ImageProfile, QcValues, image_keywords

PROFILE = ImageProfile(prodcatg="SCIENCE.IMAGE", bunit="ADU", unit_seconds_key="DET.DIT",
                       filter_key="INS.OPTI6.NAME", photsys="VEGA", adaptive_optics=True)
HEADER = {"TELESCOP": "ESO-VLT-U4", "INSTRUME": "NAOS+CONICA", "OBJECT": "FIELD", "INS.OPTI6.NAME": "Ks",
          "PRO.REC1.PIPE.ID": "naco/4.4.11", "PRO.CATG": "COADDED_IMG"}
QC = QcValues(zero_point=23.0, zero_point_rms=0.01, fwhm_arcsec=0.18, strehl=0.2)


def _raw(n: int, **changes: object) -> dict[str, object]:
    raw: dict[str, object] = {
        "ARCFILE": f"NACO.2013-02-13T01:3{n}:00.000.fits", "MJD-OBS": 56336.0 + n / 1440,
        "DATE-OBS": f"2013-02-13T01:3{n}:00.000", "EXPTIME": 60.0, "DET.DIT": 10.0, "DET.NDIT": 6,
        "OBS.ID": 200310001, "OBS.PROG.ID": "090.C-0456(A)", "DPR.TECH": "IMAGE,JITTER",
        "SEQ.CUMOFFSETX": float(3 * n), "SEQ.CUMOFFSETY": float(-2 * n)}
    raw.update(changes)
    return raw


def _missing(keywords: IdpKeywords) -> dict[str, str]:
    return dict(keywords.missing)


def test_the_keywords_of_a_coadd_come_from_its_raw_frames_header_and_qc() -> None:
    raws = [_raw(2), _raw(0), _raw(1)]  # RAWFILE order need not be time order
    keywords = image_keywords(PROFILE, HEADER, raws, QC, coverage=3)
    value = keywords.value
    assert [value(f"PROV{i}") for i in (1, 2, 3)] == [r["ARCFILE"] for r in raws] and value("PROV4") is None
    assert value("NCOMBINE") == 3 and value("TEXPTIME") == 180.0 and value("EXPTIME") == 180.0
    assert value("MJD-OBS") == 56336.0 and value("DATE-OBS") == "2013-02-13T01:30:00.000"
    assert math.isclose(float(value("MJD-END")), 56336.0 + 2 / 1440 + 60 / 86400)  # type: ignore[arg-type]
    assert value("OBID1") == 200310001 and value("OBID2") is None and value("PROG_ID") == "090.C-0456(A)"
    assert (value("PRODCATG"), value("ORIGIN"), value("PROCSOFT"), value("FILTER"), value("OBSTECH")) == \
        ("SCIENCE.IMAGE", "ESO", "naco/4.4.11", "Ks", "IMAGE,JITTER")
    assert (value("NDIT"), value("NJITTER"), value("BUNIT"), value("REFERENC")) == (6, 3, "ADU", "")
    # the zero point of 1 ADU/s, for an image in ADU of one 10 s DIT
    assert math.isclose(float(value("PHOTZP")), 25.5)  # type: ignore[arg-type]
    assert (value("PHOTZPER"), value("PHOTSYS"), value("FLUXCAL")) == (0.01, "VEGA", "ABSOLUTE")
    assert (value("PSF_FWHM"), value("STREHL")) == (0.18, 0.2)
    assert set(_missing(keywords)) == {"ABMAGLIM", "ABMAGSAT", "CTYPE1"}  # no source in dfos: listed


def test_without_a_zero_point_the_image_is_uncalibrated_and_says_why() -> None:
    keywords = image_keywords(PROFILE, HEADER, [_raw(0)], QcValues(fwhm_arcsec=0.2))
    assert keywords.value("FLUXCAL") == "UNCALIBRATED"
    missing = _missing(keywords)
    for key in ("PHOTZP", "PHOTZPER", "PHOTSYS"):
        assert keywords.value(key) is None and "no QC ZPOINT" in missing[key]
    assert "STREHL" in missing and keywords.value("EXPTIME") is None and missing["EXPTIME"] == "no contribution map"


def test_what_the_raw_frames_do_not_share_is_left_out() -> None:
    raws = [_raw(0), _raw(1, **{"DET.DIT": 20.0, "DET.NDIT": 3, "EXPTIME": 60.0, "OBS.ID": 200310002,
                                 "OBS.PROG.ID": "091.D-0001(B)", "DPR.TECH": "IMAGE"})]
    keywords = image_keywords(PROFILE, HEADER, raws, QC, coverage=2)
    value, missing = keywords.value, _missing(keywords)
    assert (value("OBID1"), value("OBID2"), value("PROG_ID")) == (200310001, 200310002, "MULTI")
    assert value("PHOTZP") is None and "DET.DIT" in missing["PHOTZP"] and value("FLUXCAL") == "UNCALIBRATED"
    assert value("NDIT") is None and value("OBSTECH") is None and value("EXPTIME") == 120.0


def test_a_raw_frame_without_archive_name_or_times_leaves_those_keywords_out() -> None:
    raws = [_raw(0), _raw(1, ARCFILE=None, **{"MJD-OBS": None})]
    keywords = image_keywords(PROFILE, {"PRO.CATG": "COADDED_IMG"}, raws, QcValues())
    missing = _missing(keywords)
    assert not any(c.keyword.startswith("PROV") for c in keywords.cards) and "ARCFILE" in missing["PROV1"]
    assert keywords.value("NCOMBINE") == 2  # the AB names two frames
    for key in ("MJD-OBS", "MJD-END", "TEXPTIME", "EXPTIME", "DATE-OBS"):
        assert key in missing
    for key in ("TELESCOP", "INSTRUME", "OBJECT", "FILTER", "PROCSOFT", "PSF_FWHM"):
        assert keywords.value(key) is None and key in missing
    assert keywords.value("ORIGIN") == "ESO" and keywords.value("PRODCATG") == "SCIENCE.IMAGE"


def test_no_raw_frames_no_provenance() -> None:
    missing = _missing(image_keywords(PROFILE, HEADER, [], QC))
    assert missing["PROV1"] == "the AB names no raw frame" and "NCOMBINE" in missing and "MJD-OBS" in missing


def test_naco_makes_idps_of_its_coadd_only() -> None:
    naco = Naco()
    assert naco.idp_image("COADDED_IMG") == PROFILE
    assert naco.idp_image("MASTER_IMG_FLAT") is None and naco.idp_image("ZPOINT_TABLE") is None
