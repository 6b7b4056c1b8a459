"""The header keywords that make a science image an Internal Data Product (IDP): ESO's Science Data
Products standard (SDP, ESO-044286) for ``PRODCATG = 'SCIENCE.IMAGE'``, computed from plain values.

:func:`image_keywords` takes the product's primary header, the headers of the raw frames the AB made
it from, the product's QC1 parameters and what the instrument says of the product
(:class:`ImageProfile`), and returns the cards to write and the keywords it cannot fill, each with
its reason.  It never invents a value: a keyword without a source is left out and listed.  Which
keywords, from where, and why some are missing: ``docs/idp.md``.  Writing them into the file is
:mod:`dfos.steps.idp`.

Headers are mappings of dotted keys (``OBS.ID``, ``DET.DIT``, ``MJD-OBS``: :mod:`dfos.headers`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Card", "IdpKeywords", "ImageProfile", "QcValues", "image_keywords"]

SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class ImageProfile:
    """What an instrument says of one kind of science image (its PRO.CATG), beyond the headers."""

    prodcatg: str
    """SDP product category, e.g. ``SCIENCE.IMAGE``."""
    bunit: str
    """The unit of the pixel values, e.g. ``ADU`` (NACO's coadd: ADU of one DIT)."""
    unit_seconds_key: str
    """The raw-header key of the seconds one pixel unit integrates (NACO: ``DET.DIT``): the zero point of
    1 ADU/s becomes the image's by ``+ 2.5 log10(seconds)``."""
    filter_key: str
    """The header key of the filter name (NACO: ``INS.OPTI6.NAME``)."""
    photsys: str
    """The photometric system of the instrument's zero points (NACO: ``VEGA``)."""
    adaptive_optics: bool = False
    """STREHL applies (SDP: AO observations only)."""


@dataclass(frozen=True)
class QcValues:
    """The QC1 values the keywords use, None where processQC has none."""

    zero_point: float | None = None
    """``QC ZPOINT``: magnitude of 1 ADU/s, of the standard star that applies to the image."""
    zero_point_rms: float | None = None
    """``QC ZPOINTRMS`` of that standard star."""
    fwhm_arcsec: float | None = None
    """``QC FWHM ARCSEC`` of the image."""
    strehl: float | None = None
    """``QC STREHL`` measured on the image."""


@dataclass(frozen=True)
class Card:
    keyword: str
    value: str | int | float | bool
    comment: str


@dataclass(frozen=True)
class IdpKeywords:
    cards: tuple[Card, ...]
    """What to write into the primary header, in order."""
    missing: tuple[tuple[str, str], ...]
    """(keyword, why it is not written) for keywords the standard asks for but that have no source."""

    def value(self, keyword: str) -> str | int | float | bool | None:
        return next((c.value for c in self.cards if c.keyword == keyword), None)


class _Collector:
    def __init__(self) -> None:
        self.cards: list[Card] = []
        self.missing: list[tuple[str, str]] = []

    def add(self, keyword: str, value: str | int | float | bool | None, comment: str, why_not: str) -> None:
        if value is None:
            self.missing.append((keyword, why_not))
        else:
            self.cards.append(Card(keyword, value, comment))


def _number(header: Mapping[str, object], key: str) -> float | None:
    value = header.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _text(header: Mapping[str, object], key: str) -> str | None:
    value = header.get(key)
    return None if value is None or isinstance(value, bool) or str(value).strip() == "" else str(value).strip()


def _common(values: Sequence[object | None]) -> object | None:
    """The one value every raw frame has, else None (a frame without it, or two values)."""
    if not values or any(v is None for v in values) or len(set(values)) != 1:
        return None
    return values[0]


def _distinct(values: Sequence[str | None]) -> list[str] | None:
    """The values in first-seen order, None when a frame has none."""
    if not values or any(v is None for v in values):
        return None
    return list(dict.fromkeys(v for v in values if v is not None))


def _identity(out: _Collector, profile: ImageProfile, header: Mapping[str, object]) -> None:
    out.add("PRODCATG", profile.prodcatg, "Data product category", "")
    out.add("ORIGIN", "ESO", "European Southern Observatory", "")
    for key, comment in (("TELESCOP", "Telescope"), ("INSTRUME", "Instrument"), ("OBJECT", "Target designation")):
        out.add(key, _text(header, key), comment, "not in the product header")
    out.add("FILTER", _text(header, profile.filter_key), "Filter name",
            f"{profile.filter_key} is not in the product header")
    out.add("PROCSOFT", _text(header, "PRO.REC1.PIPE.ID"), "Reduction software and version",
            "PRO.REC1.PIPE.ID is not in the product header")
    out.add("REFERENC", "", "Reference publication (none yet)", "")


def _provenance(out: _Collector, raws: Sequence[Mapping[str, object]]) -> None:
    arcfiles = [_text(r, "ARCFILE") for r in raws]
    if raws and all(arcfiles):
        for index, arcfile in enumerate(arcfiles, start=1):
            out.add(f"PROV{index}", arcfile, "Originating raw science file", "")
    else:
        out.add("PROV1", None, "", "a raw frame has no ARCFILE" if raws else "the AB names no raw frame")
    out.add("NCOMBINE", len(raws) if raws else None, "No. of combined raw science data files",
            "the AB names no raw frame")
    obids = _distinct([_text(r, "OBS.ID") for r in raws])
    if obids:
        for index, obid in enumerate(obids, start=1):
            out.add(f"OBID{index}", int(obid) if obid.lstrip("-").isdigit() else obid, "Observation block ID", "")
    else:
        out.add("OBID1", None, "", "a raw frame has no OBS.ID")
    programmes = _distinct([_text(r, "OBS.PROG.ID") for r in raws])
    out.add("PROG_ID", (programmes[0] if len(programmes) == 1 else "MULTI") if programmes else None,
            "ESO programme identification", "a raw frame has no OBS.PROG.ID")
    technique = _common([_text(r, "DPR.TECH") for r in raws])
    out.add("OBSTECH", technique if isinstance(technique, str) else None, "Technique of observation",
            "the raw frames have no common DPR.TECH")


def _timing(out: _Collector, raws: Sequence[Mapping[str, object]], coverage: int | None) -> None:
    starts = [_number(r, "MJD-OBS") for r in raws]
    exposures = [_number(r, "EXPTIME") for r in raws]
    known = raws and None not in starts and None not in exposures
    if not known:
        why = "a raw frame has no MJD-OBS or EXPTIME" if raws else "the AB names no raw frame"
        for key in ("MJD-OBS", "MJD-END", "DATE-OBS", "TEXPTIME", "EXPTIME"):
            out.add(key, None, "", why)
        return
    begins = [s for s in starts if s is not None]
    times = [e for e in exposures if e is not None]
    first = begins.index(min(begins))
    out.add("MJD-OBS", min(begins), "[d] Start of observations (days)", "")
    out.add("MJD-END", max(s + e / SECONDS_PER_DAY for s, e in zip(begins, times, strict=True)),
            "[d] End of observations (days)", "")
    out.add("DATE-OBS", _text(raws[first], "DATE-OBS"), "Start of the first exposure",
            "the first raw frame has no DATE-OBS")
    out.add("TEXPTIME", sum(times), "[s] Total integration time of all exposures", "")
    common = _common(times)
    per_pixel = coverage * common if coverage is not None and isinstance(common, float) else None
    out.add("EXPTIME", per_pixel, "[s] Integration time of the deepest pixel",
            "no contribution map" if coverage is None else "the raw frames have different EXPTIMEs")


def _detector(out: _Collector, raws: Sequence[Mapping[str, object]]) -> None:
    ndit = _common([_number(r, "DET.NDIT") for r in raws])
    out.add("NDIT", int(ndit) if isinstance(ndit, float) else None, "Number of sub-integrations",
            "the raw frames have no common DET.NDIT")
    offsets = [(_number(r, "SEQ.CUMOFFSETX"), _number(r, "SEQ.CUMOFFSETY")) for r in raws]
    complete = raws and all(x is not None and y is not None for x, y in offsets)
    out.add("NJITTER", len(set(offsets)) if complete else None, "Number of jitter positions",
            "a raw frame has no SEQ.CUMOFFSETX/Y")


def _photometry(out: _Collector, profile: ImageProfile, raws: Sequence[Mapping[str, object]], qc: QcValues) -> None:
    out.add("BUNIT", profile.bunit, "Physical unit of the pixel values", "")
    seconds = _common([_number(r, profile.unit_seconds_key) for r in raws])
    zero_point = None
    if qc.zero_point is not None and isinstance(seconds, float) and seconds > 0:
        zero_point = round(qc.zero_point + 2.5 * math.log10(seconds), 6)
    why = "no QC ZPOINT (no standard star of the filter in the calibration memory)" if qc.zero_point is None \
        else f"the raw frames have no common {profile.unit_seconds_key}"
    out.add("PHOTZP", zero_point, f"Zero point: mag = -2.5 log10({profile.bunit}) + PHOTZP", why)
    out.add("PHOTZPER", None if zero_point is None else qc.zero_point_rms, "Uncertainty of PHOTZP (std. star rms)",
            "no QC ZPOINTRMS of the standard star" if zero_point is not None else why)
    out.add("PHOTSYS", profile.photsys if zero_point is not None else None, "Photometric system", why)
    out.add("FLUXCAL", "ABSOLUTE" if zero_point is not None else "UNCALIBRATED", "Type of flux calibration", "")


def _quality(out: _Collector, profile: ImageProfile, header: Mapping[str, object], qc: QcValues) -> None:
    out.add("PSF_FWHM", qc.fwhm_arcsec, "[arcsec] Spatial resolution (QC FWHM ARCSEC)",
            "no QC FWHM ARCSEC")
    if profile.adaptive_optics:
        out.add("STREHL", qc.strehl, "Strehl ratio of the image (QC STREHL)",
                "no QC STREHL (no isolated star bright enough)")
    out.add("ABMAGLIM", None, "", "no QC parameter gives the limiting magnitude (noise model, Vega-AB offset)")
    out.add("ABMAGSAT", None, "", "no QC parameter gives the saturation magnitude")
    if _text(header, "CTYPE1") is None:
        out.add("CTYPE1", None, "", "the pipeline writes no WCS (no astrometric calibration)")


def image_keywords(profile: ImageProfile, header: Mapping[str, object], raws: Sequence[Mapping[str, object]],
                   qc: QcValues, coverage: int | None = None) -> IdpKeywords:
    """The SDP keywords of a science image: ``header`` the product's primary header, ``raws`` the headers
    of its raw frames (the AB's RAWFILEs, in order), ``qc`` its QC1 values, ``coverage`` the highest value of
    its contribution map (the frames its deepest pixel combines), None without one."""
    out = _Collector()
    _identity(out, profile, header)
    _provenance(out, raws)
    _timing(out, raws, coverage)
    _detector(out, raws)
    _photometry(out, profile, raws, qc)
    _quality(out, profile, header, qc)
    return IdpKeywords(tuple(out.cards), tuple(out.missing))
