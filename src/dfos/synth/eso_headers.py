"""Synthetic header sets shaped like real raw frames of ESO's VLT instruments, for ESO's own rule files.

For NACO, HAWK-I, MUSE, VIMOS, VISIR and AMBER this module gives a typical night (afternoon
calibrations, twilight flats, standards, science) as a list of frames, each a dict of dotted
keywords as dfos reads them (``DPR.CATG`` is ``HIERARCH ESO DPR CATG``).  Each frame carries what
the instrument's Gasgano rule file (``/usr/share/cpl-plugins/<pipeline>/gasgano/config/*.oca``)
reads: the DPR triple and ``TPL.ID`` for classification, ``TPL.START``/``OBS.START`` and the
``group by`` keywords for organisation, and the keywords its ``inputFile.X == X`` associations
compare (``DET.DIT``, ``DET.READ.CURID``, ``INS.OPTI1.NAME``, ``OCS.CON.QUAD`` ...), with values
of the kind the instruments write.  Besides the frames every instrument has:

* ``ARCFILE`` ``<PREFIX>.<DATE-OBS>.fits`` (:class:`dfos.naming.RawName`), ``INSTRUME`` as the
  instrument writes it (NACO: ``NAOS+CONICA``), ``TELESCOP``, ``DATE-OBS``, ``MJD-OBS``, ``EXPTIME``,
  ``TPL.ID/START/NEXP/EXPNO``, ``OBS.ID/NAME/START/PROG.ID``;
* templates of several frames whose DPR keywords may change from exposure to exposure (lamp on and
  off in a detector-monitoring template, object and sky in a jitter template);
* VIMOS: four files per exposure, one per quadrant (``OCS.CON.QUAD``, ``DET.CHIP1.ID``), each with
  the filter, grism, mask and shutter keywords of its own quadrant only (``INS.FILT1.ID`` in quadrant
  1, ``INS.FILT2.ID`` in quadrant 2 ...), which is why ESO's VIMOS rules compare them with ``?=``.

:func:`calibration_headers` gives the product headers of a calibration memory (certified masters and
static tables the rules ask for), dated the night before.  Everything is deterministic: the same
instrument and day give the same frames, byte for byte.  The values are modelled on the instruments'
pipeline manuals and rule files; they are not copies of real archive headers.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from astropy.io import fits

from dfos.dates import datetime_to_mjd
from dfos.headers.io import dotted_header, write_hdr
from dfos.naming import RawName

__all__ = [
    "INSTRUMENTS",
    "HeaderValue",
    "calibration_headers",
    "many_headers",
    "night_headers",
    "write_header_night",
    "write_headers",
]

#: A header value as FITS holds it.
HeaderValue = str | int | float | bool
#: One frame: dotted keyword -> value.
Headers = dict[str, HeaderValue]
#: DPR.CATG, DPR.TYPE, DPR.TECH.
Dpr = tuple[str, str, str]


@dataclass(frozen=True)
class _Template:
    """One template execution: ``nexp`` exposures sharing ``keys``."""

    tpl_id: str
    dprs: tuple[Dpr, ...]
    """The DPR triple of each exposure, repeated cyclically (lamp on / lamp off, object / sky)."""
    nexp: int
    exptime: float
    hour: float
    """Start, in hours after 12:00 UT of the night's date."""
    keys: Mapping[str, HeaderValue] = field(default_factory=dict)
    changes: Mapping[int, Mapping[str, HeaderValue]] = field(default_factory=dict)
    """Keywords that change from exposure ``expno`` on (1-based): twilight flats lengthen their DIT."""
    ob: str = ""
    """Templates with the same ``ob`` label are one OB (same OBS.ID, OBS.NAME and OBS.START)."""
    overhead: float = 20.0
    """Seconds between the end of one exposure and the start of the next."""


@dataclass(frozen=True)
class _Instrument:
    name: str
    instrume: str
    prefix: str
    telescope: str
    common: Mapping[str, HeaderValue]
    templates: tuple[_Template, ...]
    quadrants: int = 0
    """VIMOS: files per exposure (one per quadrant); 0: one file."""


def _dpr(catg: str, kind: str, tech: str) -> tuple[Dpr]:
    return ((catg, kind, tech),)


# --- NACO (NAOS+CONICA): naco.oca groups by template; naco_img_jitter matches the flat by INS.OPTI6.NAME
# (filter), INS.OPTI7.NAME (camera), DET.WIN.NX/NY and INSTRUME.
_NACO_KS: Headers = {"INS.OPTI6.NAME": "Ks", "INS.OPTI7.NAME": "S27", "INS.OPTI4.NAME": "FULL", "INS.CWLEN": 2.18,
            "INS.MODE": "Imaging", "DET.WIN.NX": 1024, "DET.WIN.NY": 1024, "DET.MODE.NAME": "HighDynamic"}
_NACO_J: Headers = {**_NACO_KS, "INS.OPTI6.NAME": "J", "INS.CWLEN": 1.265}
_NACO_SPEC: Headers = {**_NACO_KS, "INS.OPTI7.NAME": "S54", "INS.OPTI4.NAME": "SLIT_86mas", "INS.OPTI6.NAME": "SK",
              "INS.MODE": "Spectroscopy", "INS.GRAT.NAME": "SK"}
_NACO = _Instrument(
    "NACO", "NAOS+CONICA", "NACO", "ESO-VLT-U1", {"DET.NAME": "CONICA-ALADDIN3"},
    (
        _Template("NACO_img_cal_Darks", _dpr("CALIB", "DARK", "IMAGE"), 3, 20.0, 5.0,
                  {**_NACO_KS, "DET.DIT": 2.0, "DET.NDIT": 10}),
        _Template("NACO_img_cal_Darks", _dpr("CALIB", "DARK", "IMAGE"), 3, 30.0, 5.2,
                  {**_NACO_KS, "DET.DIT": 30.0, "DET.NDIT": 1}),
        _Template("NACO_img_cal_LampFlats", _dpr("CALIB", "FLAT,LAMP", "IMAGE"), 4, 10.0, 5.5,
                  {**_NACO_KS, "DET.DIT": 1.0, "DET.NDIT": 10}),
        # detector monitoring: lamp on and lamp off alternate; both also satisfy the earlier CAL_FLAT_LAMP
        # and CAL_DARK rules, the later DETMON rules win
        _Template("NACO_img_tec_DetCheck", (("CALIB", "FLAT,LAMP,DETCHECK", "IMAGE"),
                                            ("CALIB", "DARK,DETCHECK", "IMAGE")), 6, 5.0, 6.0,
                  {**_NACO_KS, "DET.DIT": 5.0, "DET.NDIT": 1}),
        _Template("NACO_spec_cal_Arcs", _dpr("CALIB", "WAVE,LAMP", "SPECTRUM"), 2, 10.0, 6.5,
                  {**_NACO_SPEC, "DET.DIT": 10.0, "DET.NDIT": 1}),
        _Template("NACO_spec_cal_LampFlats", _dpr("CALIB", "FLAT,LAMP", "SPECTRUM"), 4, 5.0, 6.7,
                  {**_NACO_SPEC, "DET.DIT": 5.0, "DET.NDIT": 1}),
        _Template("NACO_img_cal_TwFlats", _dpr("CALIB", "FLAT,SKY", "IMAGE"), 6, 3.0, 10.6,
                  {**_NACO_KS, "DET.DIT": 3.0, "DET.NDIT": 1}),
        _Template("NACO_img_cal_StandardStar", _dpr("CALIB", "STD", "IMAGE,JITTER"), 5, 12.0, 11.2,
                  {**_NACO_KS, "DET.DIT": 0.4, "DET.NDIT": 30, "OBS.TARG.NAME": "FS 14"}, ob="std"),
        _Template("NACO_img_acq_MoveToPixel", _dpr("ACQUISITION", "OBJECT", "IMAGE"), 1, 2.0, 12.0,
                  {**_NACO_KS, "DET.DIT": 0.4, "DET.NDIT": 5}, ob="sci"),
        _Template("NACO_img_obs_AutoJitter", _dpr("SCIENCE", "OBJECT", "IMAGE,JITTER"), 8, 60.0, 12.1,
                  {**_NACO_KS, "DET.DIT": 10.0, "DET.NDIT": 6}, ob="sci"),
        _Template("NACO_spec_obs_AutoNodOnSlit", _dpr("SCIENCE", "OBJECT", "SPECTRUM,NODDING"), 4, 120.0, 15.0,
                  {**_NACO_SPEC, "DET.DIT": 60.0, "DET.NDIT": 2}, ob="spec"),
    ),
)

# --- HAWK-I: the CASU recipes group by DET.NCORRS.NAME, DET.DIT, DET.NDIT, INS.FILT1.NAME, INS.FILT2.NAME
# (and, for science, OBS.START rather than the template); MASTER_DARK is matched by DET.DIT.
_HAWKI_J: Headers = {"INS.FILT1.NAME": "J", "INS.FILT2.NAME": "OPEN", "DET.NCORRS.NAME": "Double_RdRstRd",
            "ADA.POSANG": 0.0, "DET.WIN.NX": 2048, "DET.WIN.NY": 2048}
_HAWKI_KS: Headers = {**_HAWKI_J, "INS.FILT1.NAME": "Ks"}
_HAWKI = _Instrument(
    "HAWKI", "HAWKI", "HAWKI", "ESO-VLT-U4", {"DET.CHIPS": 4},
    (
        _Template("HAWKI_img_cal_Darks", _dpr("CALIB", "DARK", "IMAGE"), 3, 60.0, 5.0,
                  {**_HAWKI_KS, "DET.DIT": 10.0, "DET.NDIT": 6}),
        _Template("HAWKI_img_cal_Darks", _dpr("CALIB", "DARK", "IMAGE"), 3, 30.0, 5.3,
                  {**_HAWKI_KS, "DET.DIT": 2.0, "DET.NDIT": 15}),
        # lamp on / lamp off of the detector characterisation: FLAT_TWILIGHT and DARK are true first,
        # the later DETMON_LAMP_ON / DETMON_LAMP_OFF rules win
        _Template("HAWKI_img_cal_Linearity", (("CALIB", "LINEARITY,FLAT,DETCHAR", "IMAGE"),
                                              ("CALIB", "LINEARITY,DARK,DETCHAR", "IMAGE")), 6, 4.0, 6.0,
                  {**_HAWKI_J, "DET.DIT": 4.0, "DET.NDIT": 1}),
        # twilight flats: the DIT doubles as the sky darkens, so one template makes two SKY_FLATS groups
        _Template("HAWKI_img_cal_SkyFlats", _dpr("CALIB", "FLAT,SKY", "IMAGE"), 6, 2.0, 10.6,
                  {**_HAWKI_J, "DET.DIT": 2.0, "DET.NDIT": 1}, changes={4: {"DET.DIT": 4.0}}),
        _Template("HAWKI_img_cal_StandardStar", _dpr("CALIB", "STD", "IMAGE,JITTER"), 5, 20.0, 11.2,
                  {**_HAWKI_KS, "DET.DIT": 2.0, "DET.NDIT": 10, "OBS.TARG.NAME": "S234-E"}, ob="std"),
        _Template("HAWKI_img_acq_Preset", _dpr("ACQUISITION", "OBJECT", "IMAGE"), 1, 2.0, 12.0,
                  {**_HAWKI_KS, "DET.DIT": 2.0, "DET.NDIT": 1}, ob="sci"),
        _Template("HAWKI_img_obs_AutoJitterOffset", (("SCIENCE", "OBJECT", "IMAGE"), ("SCIENCE", "SKY", "IMAGE")),
                  8, 60.0, 12.1, {**_HAWKI_KS, "DET.DIT": 10.0, "DET.NDIT": 6}, ob="sci"),
        _Template("HAWKI_img_obs_AutoJitter", _dpr("SCIENCE", "OBJECT", "IMAGE"), 4, 60.0, 12.4,
                  {**_HAWKI_KS, "DET.DIT": 10.0, "DET.NDIT": 6}, ob="sci"),
    ),
)

# --- MUSE: classification reads TPL.ID with a regexp and derives INS.OPTI1.FILTER (nominal vs extended
# wavelength range) from INS.OPTI1.NAME; associations compare DET.READ.CURID, INS.MODE, INS.OPTI2.NAME.
_MUSE_MODES: dict[str, dict[str, HeaderValue]] = {
    "WFM-NOAO-N": {"INS.MODE": "WFM-NOAO-N", "INS.OPTI1.NAME": "Blue", "INS.OPTI2.NAME": "WFM"},
    "WFM-NOAO-E": {"INS.MODE": "WFM-NOAO-E", "INS.OPTI1.NAME": "Clear", "INS.OPTI2.NAME": "WFM"},
    "WFM-AO-N": {"INS.MODE": "WFM-AO-N", "INS.OPTI1.NAME": "Blue", "INS.OPTI2.NAME": "WFM"},
    "NFM-AO-N": {"INS.MODE": "NFM-AO-N", "INS.OPTI1.NAME": "Blue", "INS.OPTI2.NAME": "NFM"},
}
_MUSE_DET: Headers = {"DET.READ.CURID": 1, "DET.READ.CURNAME": "SCI1.0", "DET.CHIPS": 24}
_WFM_N: Headers = {**_MUSE_DET, **_MUSE_MODES["WFM-NOAO-N"]}
_WFM_E: Headers = {**_MUSE_DET, **_MUSE_MODES["WFM-NOAO-E"]}
_NFM: Headers = {**_MUSE_DET, **_MUSE_MODES["NFM-AO-N"]}
_MUSE = _Instrument(
    "MUSE", "MUSE", "MUSE", "ESO-VLT-U4", {},
    (
        _Template("MUSE_gen_cal_bias", _dpr("CALIB", "BIAS", "IFU"), 11, 0.0, 5.0, _WFM_N, overhead=90.0),
        _Template("MUSE_gen_cal_dark", _dpr("CALIB", "DARK", "IFU"), 3, 1800.0, 1.0, _WFM_N, overhead=90.0),
        _Template("MUSE_wfm_cal_specflat", _dpr("CALIB", "FLAT,LAMP", "IFU"), 11, 8.0, 5.5, _WFM_N,
                  overhead=90.0),
        _Template("MUSE_wfm_cal_specflat", _dpr("CALIB", "FLAT,LAMP", "IFU"), 5, 8.0, 6.0, _WFM_E,
                  overhead=90.0),
        _Template("MUSE_nfm_cal_specflat", _dpr("CALIB", "FLAT,LAMP", "IFU"), 5, 8.0, 6.3, _NFM,
                  overhead=90.0),
        _Template("MUSE_wfm_cal_arc", _dpr("CALIB", "WAVE", "IFU"), 6, 30.0, 6.6, _WFM_N, overhead=90.0),
        # a lamp flat of the illumination template: its DPR.TYPE satisfies the FLAT rule's like-tests, but not
        # that rule's TPL.ID regexp "MUSE_[wn]fm_cal_specflat"; the ILLUMFLAT rule takes it
        _Template("MUSE_wfm_cal_illum", _dpr("CALIB", "FLAT,LAMP,ILLUM", "IFU"), 1, 8.0, 11.0, _WFM_N, ob="sci"),
        _Template("MUSE_wfm_cal_skyflat", _dpr("CALIB", "FLAT,SKY", "IFU"), 4, 30.0, 10.5, _WFM_N, overhead=90.0),
        _Template("MUSE_wfm_cal_specphot", _dpr("CALIB", "STD", "IFU"), 1, 60.0, 11.5,
                  {**_WFM_N, "OBS.TARG.NAME": "GD 153"}, ob="std"),
        _Template("MUSE_wfm-noao_acq_preset", _dpr("ACQUISITION", "OBJECT", "IMAGE"), 1, 10.0, 12.0, _WFM_N, ob="sci"),
        _Template("MUSE_wfm-noao_obs_genericoffset", (("SCIENCE", "OBJECT", "IFU"), ("SCIENCE", "OBJECT", "IFU"),
                                                      ("SCIENCE", "SKY", "IFU")), 6, 900.0, 12.1, _WFM_N, ob="sci"),
        _Template("MUSE_wfm-noao_obs_genericoffset", _dpr("SCIENCE", "OBJECT", "IFU"), 2, 600.0, 16.0, _WFM_E,
                  ob="sci-e"),
    ),
)

# --- VIMOS: four quadrant files per exposure; associations compare the detector set-up of the quadrant
# (DET.READ.SPEED/CLOCK/MODE, DET.WIN1.NY/BINX/BINY, DET.CHIP1.ID, OCS.CON.QUAD) and, with ?=, the
# quadrant's own filter (INS.FILTq.ID/NAME), grism (INS.GRISq.ID) and mask (INS.MASKq.ID) keywords.
_VIMOS_CHIPS = ("BRIAN", "Keith", "Tom", "DAVID")
_VIMOS_DET: Headers = {"DET.READ.SPEED": 225, "DET.READ.CLOCK": "225kHz,1port,Normal", "DET.READ.MODE": "normal",
              "DET.WIN1.NY": 4096, "DET.WIN1.NX": 2048, "DET.WIN1.BINX": 1, "DET.WIN1.BINY": 1,
              "DET.NAME": "VIMOS-CCD"}
_VIMOS = _Instrument(
    "VIMOS", "VIMOS", "VIMOS", "ESO-VLT-U3", _VIMOS_DET,
    (
        _Template("VIMOS_img_cal_Bias", _dpr("CALIB", "BIAS", "IMAGE"), 5, 0.0, 5.0, {"INS.MODE": "IMG"}),
        _Template("VIMOS_img_cal_Dark", _dpr("CALIB", "DARK", "IMAGE"), 3, 600.0, 5.3, {"INS.MODE": "IMG"}),
        _Template("VIMOS_mos_cal_NightCalib", (("CALIB", "FLAT,LAMP", "MOS"), ("CALIB", "FLAT,LAMP", "MOS"),
                                               ("CALIB", "FLAT,LAMP", "MOS"), ("CALIB", "WAVE,LAMP", "MOS")),
                  4, 20.0, 6.0, {"INS.MODE": "MOS", "@GRISM": "MR_GG475", "@MASK": "mask_1001"}),
        _Template("VIMOS_img_cal_SkyFlat", _dpr("CALIB", "FLAT,SKY", "IMAGE"), 3, 5.0, 10.6,
                  {"INS.MODE": "IMG", "@FILTER": "R"}),
        _Template("VIMOS_img_cal_Standard", _dpr("CALIB", "STD", "IMAGE"), 1, 10.0, 11.2,
                  {"INS.MODE": "IMG", "@FILTER": "R", "OBS.TARG.NAME": "PG1047+003"}, ob="std"),
        _Template("VIMOS_img_obs_Offset", _dpr("SCIENCE", "OBJECT", "IMAGE"), 3, 300.0, 12.0,
                  {"INS.MODE": "IMG", "@FILTER": "R", "OBS.TARG.NAME": "CDFS-1"}, ob="sci"),
        _Template("VIMOS_mos_obs_Offset", _dpr("SCIENCE", "OBJECT", "MOS"), 3, 900.0, 14.0,
                  {"INS.MODE": "MOS", "@GRISM": "MR_GG475", "@MASK": "mask_1001", "OBS.TARG.NAME": "CDFS-1"},
                  ob="mos"),
    ),
    quadrants=4,
)

# --- VISIR: no set-up keys in the associations (static calibrations only); the acquisition rule reads
# INS.MODE and INS.SLIT1.NAME; the spectroscopic actions depend on MJD-OBS (>= 56100: the new recipes).
_VISIR_IMG: Headers = {"INS.MODE": "IMG", "INS.FILT1.NAME": "PAH1", "INS.SLIT1.NAME": "OPEN", "INS.PFOV": 0.045,
              "DET.CHOP.NCYCLES": 10}
_VISIR_SPC: Headers = {"INS.MODE": "SPC", "INS.FILT1.NAME": "N_SW_spec", "INS.SLIT1.NAME": "0.75_wide",
              "INS.GRAT1.NAME": "LR", "DET.CHOP.NCYCLES": 10}
_VISIR = _Instrument(
    "VISIR", "VISIR", "VISIR", "ESO-VLT-U3", {"DET.NAME": "AQUARIUS"},
    (
        _Template("VISIR_img_cal_Dark", _dpr("CALIB", "DARK", "IMAGE"), 3, 10.0, 5.0, _VISIR_IMG),
        _Template("VISIR_img_cal_Flat", _dpr("CALIB", "FLAT", "IMAGE,DIRECT"), 4, 10.0, 5.5, _VISIR_IMG),
        _Template("VISIR_img_cal_AutoChopNod", _dpr("CALIB", "STD", "IMAGE,CHOPNOD,JITTER"), 4, 60.0, 11.0,
                  {**_VISIR_IMG, "OBS.TARG.NAME": "HD 123139"}, ob="std"),
        # burst mode: IM_CAL_PHOT is true first, the later IM_CAL_PHOT_BURST rule wins
        _Template("VISIR_img_cal_AutoChopNodBurst", _dpr("CALIB", "STD", "IMAGE,BURST,CHOPNOD"), 2, 60.0, 11.3,
                  {**_VISIR_IMG, "OBS.TARG.NAME": "HD 123139"}, ob="std-burst"),
        # acquisition in imaging mode: ACQUISITION first, then ACQ_OBS_CHO_NOD_JIT
        _Template("VISIR_img_acq_Preset", _dpr("ACQUISITION", "OBJECT", "IMAGE"), 2, 10.0, 12.0, _VISIR_IMG,
                  ob="sci"),
        _Template("VISIR_img_obs_AutoChopNod", _dpr("SCIENCE", "OBJECT", "IMAGE,CHOPNOD,JITTER"), 6, 120.0, 12.1,
                  {**_VISIR_IMG, "OBS.TARG.NAME": "NGC 1068"}, ob="sci"),
        _Template("VISIR_spec_cal_LRAutoChopNod", _dpr("CALIB", "STD", "SPECTRUM,CHOPNOD"), 2, 120.0, 14.0,
                  {**_VISIR_SPC, "OBS.TARG.NAME": "HD 123139"}, ob="spc-std"),
        _Template("VISIR_spec_obs_LRAutoChopNod", _dpr("SCIENCE", "OBJECT", "SPECTRUM,CHOPNOD,JITTER"), 4, 300.0,
                  14.5, {**_VISIR_SPC, "OBS.TARG.NAME": "NGC 1068"}, ob="spc"),
    ),
)

# --- AMBER: no set-up keys in the associations; a P2VM template mixes WAVE,3TEL and 3P2V frames, an
# observation template DARK, SKY and OBJECT frames: each template is one group.
_AMBER_INS: Headers = {"INS.MODE": "3Tstd_Low_JHK_1", "INS.GRAT1.NAME": "LR_JHK", "DET.NTEL": 3,
                       "ISS.CONF.STATION1": "U1"}
_AMBER = _Instrument(
    "AMBER", "AMBER", "AMBER", "ESO-VLTI-U123", {"DET.NAME": "AMBER-HAWAII"},
    (
        _Template("AMBER_gen_cal_Detector", (("CALIB", "DARK", "IMAGE"), ("CALIB", "FLAT,LAMP", "IMAGE")), 4, 10.0,
                  5.0, _AMBER_INS),
        _Template("AMBER_3Tstd_cal_P2VM", (("CALIB", "WAVE,3TEL", "INTERFEROMETRY"),) +
                  (("CALIB", "3P2V", "INTERFEROMETRY"),) * 9, 10, 5.0, 6.0, _AMBER_INS),
        _Template("AMBER_3Tstd_acq", _dpr("ACQUISITION", "OBJECT", "IMAGE"), 1, 5.0, 11.9, _AMBER_INS, ob="cal"),
        _Template("AMBER_3Tstd_obs_Calibrator", (("CALIB", "DARK", "INTERFEROMETRY"),
                                                 ("CALIB", "SKY", "INTERFEROMETRY"),
                                                 ("CALIB", "OBJECT", "INTERFEROMETRY"),
                                                 ("CALIB", "OBJECT", "INTERFEROMETRY"),
                                                 ("CALIB", "OBJECT", "INTERFEROMETRY")), 5, 60.0, 12.0,
                  {**_AMBER_INS, "OBS.TARG.NAME": "HD 100546 CAL"}, ob="cal"),
        _Template("AMBER_3Tstd_obs_Science", (("SCIENCE", "DARK", "INTERFEROMETRY"),
                                              ("SCIENCE", "SKY", "INTERFEROMETRY"),
                                              ("SCIENCE", "OBJECT", "INTERFEROMETRY"),
                                              ("SCIENCE", "OBJECT", "INTERFEROMETRY"),
                                              ("SCIENCE", "OBJECT", "INTERFEROMETRY")), 5, 60.0, 13.0,
                  {**_AMBER_INS, "OBS.TARG.NAME": "HD 100546"}, ob="sci"),
    ),
)

_ALL = {i.name: i for i in (_NACO, _HAWKI, _MUSE, _VIMOS, _VISIR, _AMBER)}
#: The instruments :func:`night_headers` knows (``HAWK-I`` and ``HAWKI`` both name HAWK-I).
INSTRUMENTS: tuple[str, ...] = tuple(_ALL)


def _instrument(name: str) -> _Instrument:
    key = name.upper().replace("-", "")
    if key not in _ALL:
        raise ValueError(f"no synthetic headers for {name!r}; known: {', '.join(INSTRUMENTS)}")
    return _ALL[key]


def _iso_ms(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _second(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _quadrant_keys(keys: Mapping[str, HeaderValue], quadrant: int) -> dict[str, HeaderValue]:
    """VIMOS: the ``@FILTER``, ``@GRISM`` and ``@MASK`` placeholders as the quadrant's own keywords."""
    found: dict[str, HeaderValue] = {k: v for k, v in keys.items() if not k.startswith("@")}
    q = quadrant
    if "@FILTER" in keys:
        name = str(keys["@FILTER"])
        found |= {f"INS.FILT{q}.NAME": name, f"INS.FILT{q}.ID": f"{name}_{q}"}
    if "@GRISM" in keys:
        grism = str(keys["@GRISM"])
        found |= {f"INS.GRIS{q}.NAME": grism, f"INS.GRIS{q}.ID": f"{grism}_{q}",
                  f"INS.FILT{q}.NAME": grism.split("_")[-1], f"INS.FILT{q}.ID": f"{grism.split('_')[-1]}_{q}"}
    if "@MASK" in keys:
        found |= {f"INS.MASK{q}.ID": int(str(keys["@MASK"]).split("_")[-1]) * 10 + q,
                  f"INS.MSHU{q}.MODE": "OFF"}
    return found | {"OCS.CON.QUAD": q, "DET.CHIP1.ID": _VIMOS_CHIPS[q - 1], "DET.CHIP1.NAME": f"CCD{q}"}


def _frames(instrument: _Instrument, templates: Sequence[tuple[_Template, datetime, int, str]],
            step: float | None) -> list[Headers]:
    """Lay out templates from their start times: exposures one after the other (``step`` seconds apart
    when given, else exposure time plus overhead); ``(template, start, obs_id, ob key)`` each."""
    frames: list[Headers] = []
    ob_start: dict[str, tuple[datetime, int]] = {}
    for number, (template, start, obs_id, ob) in enumerate(templates):
        first_of_ob = ob_start.setdefault(ob, (start, obs_id))
        moment = start
        keys = dict(template.keys)
        for expno in range(1, template.nexp + 1):
            keys |= template.changes.get(expno, {})
            catg, kind, tech = template.dprs[(expno - 1) % len(template.dprs)]
            exptime = template.exptime
            if "DET.DIT" in keys and "DET.NDIT" in keys:
                exptime = float(keys["DET.DIT"]) * float(keys["DET.NDIT"])
            for quadrant in range(1, max(instrument.quadrants, 1) + 1):
                # the quadrants of one VIMOS exposure are written a few milliseconds apart
                at = moment.replace(microsecond=((number * 37 + expno * 11) % 900 + quadrant) * 1000)
                own = _quadrant_keys(keys, quadrant) if instrument.quadrants else dict(keys)
                header: Headers = {
                    "ARCFILE": RawName(instrument.prefix, at).render(),
                    "ORIGFILE": f"{template.tpl_id}_{expno:04d}.fits",
                    "TELESCOP": instrument.telescope,
                    "INSTRUME": instrument.instrume,
                    "OBJECT": str(own.get("OBS.TARG.NAME", kind)),
                    "DATE-OBS": _iso_ms(at),
                    "MJD-OBS": round(datetime_to_mjd(at), 8),
                    "EXPTIME": exptime,
                    "OBS.ID": first_of_ob[1],
                    "OBS.NAME": f"{template.tpl_id.split('_')[1]}_{ob}" if ob else template.tpl_id,
                    "OBS.PROG.ID": "113.26XA.001" if catg in ("SCIENCE", "ACQUISITION") else "60.A-9800(A)",
                    "OBS.START": _second(first_of_ob[0]),
                    "TPL.ID": template.tpl_id,
                    "TPL.NAME": template.tpl_id.split("_", 1)[-1],
                    "TPL.START": _second(start),
                    "TPL.NEXP": template.nexp,
                    "TPL.EXPNO": expno,
                    "DPR.CATG": catg,
                    "DPR.TYPE": kind,
                    "DPR.TECH": tech,
                    **instrument.common,
                    **own,
                }
                frames.append(header)
            moment += timedelta(seconds=step if step is not None else exptime + template.overhead)
    return frames


def _noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12)


def night_headers(instrument: str, day: date) -> list[dict[str, HeaderValue]]:
    """A typical night of ``instrument`` (NACO, HAWKI, MUSE, VIMOS, VISIR or AMBER) on the DFOS date ``day``:
    every raw frame's header as dotted keywords, in time order.

    All frames lie within the DFOS night (12:00 UT of ``day`` to 12:00 UT the day after); calibrations
    are calibration OBs of their own, science templates share their OB (OBS.ID, OBS.START) with the
    acquisition before them.  Deterministic.
    """
    spec = _instrument(instrument)
    base_id = 200_000_000 + (day.toordinal() % 10_000) * 1000
    obs: dict[str, int] = {}
    plan: list[tuple[_Template, datetime, int, str]] = []
    for number, template in enumerate(spec.templates):
        start = _noon(day) + timedelta(hours=template.hour)
        ob = f"night-{template.ob}" if template.ob else f"cal-{number}"
        obs_id = obs.setdefault(ob, base_id + len(obs) + 1)
        plan.append((template, start, obs_id, ob))
    return sorted(_frames(spec, plan, None), key=lambda h: (str(h["DATE-OBS"]), str(h["ARCFILE"])))


def _cycles(spec: _Instrument) -> Iterator[tuple[int, _Template]]:
    """The night's templates over and over, with the number of the repetition."""
    for number in itertools.count():
        for template in spec.templates:
            yield number, template


def many_headers(instrument: str, n: int, day: date) -> list[dict[str, HeaderValue]]:
    """``n`` frames of ``instrument`` for benchmarks: the night's templates repeated (MUSE cycles through its
    four instrument modes, the others through their own set-ups), spread evenly over the 24 hours of ``day``,
    each repetition a new OB with its own template starts.  Deterministic; the first ``n`` frames in time
    order (a template may be cut short at the end)."""
    if n <= 0:
        return []
    spec = _instrument(instrument)
    files_per_exposure = max(spec.quadrants, 1)
    step = 86_400.0 / (n / files_per_exposure + 1)
    step = max(0.002, round(step, 3))
    modes = list(_MUSE_MODES.values())
    plan: list[tuple[_Template, datetime, int, str]] = []
    moment = _noon(day) + timedelta(seconds=1)
    count = 0
    for cycle, template in _cycles(spec):
        if count >= n:
            break
        if spec.name == "MUSE":
            template = _Template(template.tpl_id, template.dprs, template.nexp, template.exptime, template.hour,
                                 {**template.keys, **modes[cycle % len(modes)]}, template.changes, template.ob,
                                 template.overhead)
        obs_id = 300_000_000 + cycle * 100 + (len(plan) % 100)
        plan.append((template, moment, obs_id, f"many-{cycle}-{template.ob or len(plan)}"))
        moment += timedelta(seconds=step * template.nexp)
        count += template.nexp * files_per_exposure
    frames = _frames(spec, plan, step)
    return sorted(frames, key=lambda h: (str(h["DATE-OBS"]), str(h["ARCFILE"])))[:n]


# --- calibration memory ----------------------------------------------------------------------------

def _product(instrument: _Instrument, catg: str, at: datetime, keys: Mapping[str, HeaderValue]) -> Headers:
    return {
        "ARCFILE": f"M.{instrument.prefix}.{_iso_ms(at)}.fits",
        "TELESCOP": instrument.telescope,
        "INSTRUME": instrument.instrume,
        "DATE-OBS": _iso_ms(at),
        "MJD-OBS": round(datetime_to_mjd(at), 8),
        "EXPTIME": 0.0,
        "PRO.CATG": catg,
        **instrument.common,
        **keys,
    }


def _memory_plan(name: str) -> list[tuple[str, dict[str, HeaderValue]]]:
    """The products of one instrument's calibration memory: ``(PRO.CATG, set-up keywords)``."""
    if name == "NACO":
        return [("MASTER_IMG_FLAT", dict(_NACO_KS)), ("MASTER_IMG_FLAT", dict(_NACO_J)),
                ("IMG_STD_CATALOG", {}), ("SPC_MODEL", {}), ("SPC_ARGON", {})]
    if name == "HAWKI":
        return [("REFERENCE_DARK", {**_HAWKI_KS, "DET.DIT": 10.0, "DET.NDIT": 6}),
                ("REFERENCE_DARK", {**_HAWKI_KS, "DET.DIT": 2.0, "DET.NDIT": 15}),
                ("MASTER_DARK", {**_HAWKI_KS, "DET.DIT": 10.0, "DET.NDIT": 6}),
                ("MASTER_DARK", {**_HAWKI_KS, "DET.DIT": 2.0, "DET.NDIT": 15}),
                ("MASTER_DARK", {**_HAWKI_KS, "DET.DIT": 4.0, "DET.NDIT": 1}),
                ("MASTER_TWILIGHT_FLAT", dict(_HAWKI_KS)), ("MASTER_TWILIGHT_FLAT", dict(_HAWKI_J)),
                ("MASTER_CONF", dict(_HAWKI_KS)), ("MASTER_CONF", dict(_HAWKI_J)),
                ("MASTER_READGAIN", {}), ("PHOTCAL_TAB", {}), ("SCHLEGEL_MAP_NORTH", {}),
                ("SCHLEGEL_MAP_SOUTH", {}), ("MASTER_2MASS_CATALOGUE_ASTROM", {}),
                ("MASTER_2MASS_CATALOGUE_PHOTOM", {})]
    if name == "MUSE":
        plan: list[tuple[str, dict[str, HeaderValue]]] = [
            ("MASTER_BIAS", dict(_MUSE_DET)), ("MASTER_DARK", dict(_MUSE_DET))]
        for mode in _MUSE_MODES.values():
            setup = {**_MUSE_DET, **mode}
            plan += [(catg, setup) for catg in ("MASTER_FLAT", "TRACE_TABLE", "WAVECAL_TABLE", "TWILIGHT_CUBE")]
        plan += [(catg, {**_MUSE_DET, "INS.OPTI2.NAME": opti2})
                 for opti2 in ("WFM", "NFM") for catg in ("GEOMETRY_TABLE", "ILLUM")]
        plan += [(catg, {}) for catg in ("BADPIX_TABLE", "NONLINEARITY_GAIN", "LINE_CATALOG", "FILTER_LIST",
                                         "EXTINCT_TABLE", "STD_FLUX_TABLE", "ASTROMETRY_REFERENCE",
                                         "VIGNETTING_MASK")]
        return plan
    if name == "VIMOS":
        plan = []  # the plan of the quadrants
        for q in range(1, 5):
            plan += [("MASTER_BIAS", _quadrant_keys(_VIMOS_DET, q)),
                     ("CCD_TABLE", _quadrant_keys(_VIMOS_DET, q)),
                     ("IMG_MASTER_SKY_FLAT", _quadrant_keys({**_VIMOS_DET, "@FILTER": "R"}, q)),
                     ("IMG_MASTER_SKY_FLAT", _quadrant_keys({**_VIMOS_DET, "@FILTER": "I"}, q)),
                     ("PHOTOMETRIC_TABLE", _quadrant_keys({"@FILTER": "R"}, q)),
                     ("GRISM_TABLE", _quadrant_keys({"@GRISM": "MR_GG475"}, q)),
                     ("LINE_CATALOG", _quadrant_keys({"@GRISM": "MR_GG475"}, q)),
                     ("CONFIG_TABLE", _quadrant_keys({"@GRISM": "MR_GG475"}, q)),
                     ("GLOBAL_DISTORTION_TABLE", _quadrant_keys({"@GRISM": "MR_GG475"}, q))]
        return [*plan, ("PHOTOMETRIC_CATALOG", {}), ("EXTINCT_TABLE", {})]
    if name == "VISIR":
        return [(catg, {}) for catg in ("STATIC_MASK", "IMG_STD_CATALOG", "SPEC_CAL_LINES", "SPEC_CAL_QEFF",
                                        "SPEC_STD_CATALOG", "LINEARITY_TABLE")]
    return [(catg, dict(_AMBER_INS)) for catg in ("AMBER_FLATFIELD", "AMBER_BADPIX", "CALIB_DATABASE_J",
                                                  "CALIB_DATABASE_H", "CALIB_DATABASE_K")]


def calibration_headers(instrument: str, day: date) -> list[dict[str, HeaderValue]]:
    """Product headers of a calibration memory for the night ``day``: the masters and static tables ESO's rules
    for ``instrument`` associate (``PRO.CATG`` and the set-up keywords they are matched by, no ``DPR.*``),
    made in the morning of ``day`` (one minute apart), named ``M.<PREFIX>.<DATE-OBS>.fits`` as the archive
    names master calibrations."""
    spec = _instrument(instrument)
    first = datetime(day.year, day.month, day.day, 10)
    return [_product(spec, catg, first + timedelta(minutes=number), keys)
            for number, (catg, keys) in enumerate(_memory_plan(spec.name))]


# --- writing ------------------------------------------------------------------------------------------

def _fits_header(values: Mapping[str, HeaderValue]) -> fits.Header:
    return dotted_header([("SIMPLE", True), ("BITPIX", 16), ("NAXIS", 0), ("EXTEND", True), *values.items()])


def write_headers(directory: Path, headers: Sequence[Mapping[str, HeaderValue]]) -> list[Path]:
    """Write each header as ``<ARCFILE stem>.hdr`` in ``directory`` (created if needed); the paths, in order."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for values in headers:
        path = directory / (str(values["ARCFILE"]).removesuffix(".fits") + ".hdr")
        write_hdr(path, _fits_header(values))
        paths.append(path)
    return paths


def write_header_night(directory: Path, instrument: str, day: date) -> list[Path]:
    """Write :func:`night_headers` as one ``.hdr`` file per frame into ``directory``; the paths, in time order."""
    return write_headers(directory, night_headers(instrument, day))
