"""NACO QC procedures: the master dark and flat, the standard star's zero-point table (plot), and the
science coadd of ``naco_img_jitter`` (COADDED_IMG).

The recipes write most QC keywords that matter themselves (``QC RON1``, ``QC DARKMED``, ``QC NBHOTPIX``
on the dark; ``QC ZPOINT``, ``QC ZPOINTRMS``, ``QC STREHL`` on the ZPOINT_TABLE; ``QC FWHM PIX``,
``QC FWHM ARCSEC``, ``QC BACKGD`` on the coadd).  ``naco_img_twflat`` writes none: ``naco_master``
measures ``QC FLAT MEAN`` (clipped mean of the central half; the flat is normalised to 1) and ``QC FLAT
RMS`` (its robust standard deviation over the mean: the pixel-to-pixel sensitivity).  For the coadd
``naco_coadd`` adds what is not in its header:

* ``QC NSOURCES``, ``QC NSOURCES SIGMA``, ``QC NSOURCES FWHM``: the sources the recipe detected, the
  detection level, and how many of them its FWHM is the median of, from the recipe's log
  (:mod:`dfos.qc.recipe_log`);
* ``QC ZPOINT`` [mag for 1 ADU/s] and ``QC STREHL STD``: the zero point and the Strehl ratio of the
  night's standard star in the same filter and camera, from the ZPOINT_TABLE the calibration memory
  offers (the same DFO date first, then the nearest in time; ``QC ZPOINT SOURCE`` names it);
* ``QC STREHL``: measured on the coadd itself, peak / flux of its brightest isolated star against the
  diffraction-limited PSF of an 8.2 m pupil (1.116 m central obscuration) at ``INS.CWLEN`` sampled
  at ``INS.PIXSCALE`` (:mod:`dfos.qc.imaging`); ``QC STREHL STAR`` names the star, or says why
  there is none.

``QC ... SOURCE`` and ``QC STREHL STAR`` are text: never scored, shown in the QC log.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from dfos.qc.imaging import (
    CleanImage,
    Source,
    StrehlMeasurement,
    clean_image,
    diffraction_psf,
    find_sources,
    measure_strehl,
)
from dfos.qc.model import QC1Param
from dfos.qc.plotting import DRAWING, save_figure
from dfos.qc.procedures import CalibrationProduct, ProductContext, QCProcedure, central, clipped_mean, robust_sigma
from dfos.qc.recipe_log import parse_apertures

__all__ = ["DIAMETER_M", "NacoCoadd", "NacoMaster", "NacoZeroPoint", "choose_zero_point"]

#: The pupil of the Strehl ratio's reference PSF: the VLT's primary and the central obscuration [m].
DIAMETER_M = 8.2
OBSCURATION_M = 1.116


class NacoMaster(QCProcedure):
    """The master dark (its QC keywords suffice) and twilight flat (level and pixel-to-pixel spread); the
    plot shows the image and its histogram."""

    name = "naco_master"
    instrument = "NACO"
    pro_catgs = ("NACO_IMG_DARK_AVG", "MASTER_IMG_FLAT")

    def measure(self, product: ProductContext) -> list[QC1Param]:
        if product.pro_catg != "MASTER_IMG_FLAT" or product.image is None:
            return []
        middle = central(product.image)
        mean = clipped_mean(middle)
        params = [self.param("QC FLAT MEAN", mean, "", "clipped mean of the central half (normalised flat)")]
        if mean > 0:
            params.append(self.param("QC FLAT RMS", robust_sigma(middle) / mean, "",
                                     "robust standard deviation of the central half over its mean"))
        return params


def _number(mapping: Any, key: str) -> float | None:
    value = mapping.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _text(mapping: Any, key: str) -> str:
    value = mapping.get(key)
    return "" if value is None else str(value).strip()


def choose_zero_point(candidates: Sequence[CalibrationProduct], band: str, camera: str, mjd: float,
                      date: str) -> CalibrationProduct | None:
    """The ZPOINT_TABLE that applies to an image of ``band`` taken with ``camera`` at ``mjd``: same filter
    and camera (``INS.OPTI6.NAME``, ``INS.OPTI7.NAME``), with a ``QC.ZPOINT``; of the DFO ``date``
    first, then the nearest in time; a certified one before a virtual one at equal distance."""
    fitting = [c for c in candidates
               if _text(c.header, "INS.OPTI6.NAME") == band
               and (not camera or _text(c.header, "INS.OPTI7.NAME") == camera)
               and _number(c.header, "QC.ZPOINT") is not None]
    return min(fitting, key=lambda c: (c.date != date, abs(c.mjd_obs - mjd), c.memory != "MCAL", c.ref), default=None)


class NacoZeroPoint(QCProcedure):
    """The standard star's ZPOINT_TABLE: its QC keywords suffice; the plot shows the zero point and Strehl
    ratio of every difference image the recipe measured."""

    name = "naco_zpoint"
    instrument = "NACO"
    pro_catgs = ("ZPOINT_TABLE",)

    def measure(self, product: ProductContext) -> list[QC1Param]:
        return []

    def plot(self, product: ProductContext, target: Path, params: list[QC1Param]) -> Path | None:
        try:
            table = fits.getdata(product.path, 1)
            rows = {name: np.asarray(table[name], dtype=np.float64) for name in ("ZPOINT", "STREHL", "FWHMX", "FWHMY")}
        except (OSError, KeyError, IndexError, TypeError, ValueError):
            return None
        with DRAWING:
            return _zero_point_plot(product, rows, target)


def _zero_point_plot(product: ProductContext, rows: dict[str, np.ndarray], target: Path) -> Path:
    from matplotlib.figure import Figure

    header = product.header
    number = np.arange(1, rows["ZPOINT"].size + 1)
    figure = Figure(figsize=(10, 4.5))
    left, right = figure.subplots(1, 2)
    left.plot(number, rows["ZPOINT"], "o-", color="0.2")
    zpoint, rms = _number(header, "ESO QC ZPOINT"), _number(header, "ESO QC ZPOINTRMS") or 0.0
    if zpoint is not None:
        left.axhline(zpoint, color="tab:blue", label=f"QC ZPOINT {zpoint:.3f} +- {rms:.3f}")
        left.axhspan(zpoint - rms, zpoint + rms, color="tab:blue", alpha=0.15)
        left.legend(fontsize=8)
    left.ticklabel_format(axis="y", useOffset=False)
    left.set_xlabel("difference image")
    left.set_ylabel("zero point [mag for 1 ADU/s]")
    left.set_title(f"{product.pro_catg} {_text(header, 'ESO QC STDNAME')} {_text(header, 'ESO INS OPTI6 NAME')}\n"
                   f"{product.path.name}", fontsize=9)
    right.plot(number, rows["STREHL"], "s-", color="tab:green", label="Strehl")
    right.set_ylabel("Strehl ratio (recipe)")
    right.set_xlabel("difference image")
    twin = right.twinx()
    twin.plot(number, 0.5 * (rows["FWHMX"] + rows["FWHMY"]), "^--", color="tab:orange", label="FWHM")
    twin.set_ylabel("FWHM [px]")
    right.set_title(f"QC STREHL {_number(header, 'ESO QC STREHL') or float('nan'):.3f}", fontsize=9)
    figure.tight_layout()
    return save_figure(figure, target, dpi=80)


def _coverage(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    """The coadd's contribution map (its first image extension of the same shape), if any."""
    with fits.open(path, memmap=False) as hdul:
        for hdu in hdul[1:]:
            data = getattr(hdu, "data", None)
            if isinstance(hdu, fits.ImageHDU) and data is not None and data.shape == shape:
                return np.asarray(data, dtype=np.float64)
    return None


@lru_cache(maxsize=2)  # measure, then plot, of the same product
def _analysis(path: str, _stamp: tuple[int, int], fwhm: float, wavelength: float,
              pixscale: float) -> tuple[CleanImage, tuple[Source, ...], StrehlMeasurement | None]:
    """Clean image, sources and Strehl measurement of a coadd (cached: measure and plot share it)."""
    image = fits.getdata(path, 0)
    clean = clean_image(image, _coverage(Path(path), image.shape))
    sources = find_sources(clean, fwhm)
    psf = diffraction_psf(wavelength, pixscale, DIAMETER_M, OBSCURATION_M)
    return clean, tuple(sources), measure_strehl(clean, sources, fwhm, psf)


class NacoCoadd(QCProcedure):
    """The science coadd (COADDED_IMG): see the module docstring."""

    name = "naco_coadd"
    instrument = "NACO"
    pro_catgs = ("COADDED_IMG",)

    def measure(self, product: ProductContext) -> list[QC1Param]:
        return self.sources(product) + self.zero_point(product) + self.strehl(product)

    def sources(self, product: ProductContext) -> list[QC1Param]:
        """The recipe's source detection, from its log."""
        if product.recipe_log is None:
            return [self.text("QC NSOURCES SOURCE", "none: no recipe log", "where QC NSOURCES comes from")]
        detection = parse_apertures(product.recipe_log.read_text(encoding="utf-8", errors="replace"))
        if detection is None:
            return [self.text("QC NSOURCES SOURCE", f"none: no aperture detection in {product.recipe_log.name}",
                              "where QC NSOURCES comes from")]
        params = [self.param("QC NSOURCES", detection.detected, "", "sources the recipe detected (its log)"),
                  self.param("QC NSOURCES SIGMA", detection.sigma, "sigma", "the recipe's detection level (its log)"),
                  self.text("QC NSOURCES SOURCE", product.recipe_log.name, "where QC NSOURCES comes from")]
        if detection.with_fwhm is not None:
            params.append(self.param("QC NSOURCES FWHM", detection.with_fwhm, "",
                                     "detected sources with a FWHM in the recipe's range (QC FWHM is their median)"))
        return params

    def zero_point(self, product: ProductContext) -> list[QC1Param]:
        """The zero point (and Strehl ratio) of the standard star of the same filter."""
        header = product.header
        band, camera = _text(header, "ESO INS OPTI6 NAME"), _text(header, "ESO INS OPTI7 NAME")
        chosen = choose_zero_point(product.calibrations("ZPOINT_TABLE"), band, camera,
                                   _number(header, "MJD-OBS") or 0.0, product.date)
        if chosen is None:
            return [self.text("QC ZPOINT SOURCE", f"none: no ZPOINT_TABLE of {band or '?'} ({camera or '?'}) in the "
                              f"calibration memory of {product.date or '?'}", "where QC ZPOINT comes from")]
        star = _text(chosen.header, "QC.STDNAME")
        made = f", made by {chosen.producer}" if chosen.producer else ""
        params = [self.param("QC ZPOINT", _number(chosen.header, "QC.ZPOINT") or 0.0, "mag",
                             f"zero point (1 ADU/s) of the standard star {star} in {band}, {chosen.memory} of "
                             f"{chosen.date}{made}"),
                  self.text("QC ZPOINT SOURCE", chosen.ref, f"{chosen.memory} of {chosen.date}{made}")]
        strehl = _number(chosen.header, "QC.STREHL")
        if strehl is not None:
            params.append(self.param("QC STREHL STD", strehl, "",
                                     f"the recipe's Strehl ratio of the standard star {star} in {band}"))
        return params

    def _inputs(self, product: ProductContext) -> tuple[float, float, float] | None:
        """(FWHM [px], wavelength [um], pixel scale [arcsec]) from the header, if all are there."""
        header = product.header
        fwhm, wavelength = _number(header, "ESO QC FWHM PIX"), _number(header, "ESO INS CWLEN")
        pixscale = _number(header, "ESO INS PIXSCALE")
        if product.image is None or fwhm is None or wavelength is None or pixscale is None \
                or min(fwhm, wavelength, pixscale) <= 0:
            return None
        return fwhm, wavelength, pixscale

    def analyse(self, product: ProductContext) -> tuple[CleanImage, tuple[Source, ...], StrehlMeasurement | None] \
            | None:
        inputs = self._inputs(product)
        if inputs is None:
            return None
        stat = product.path.stat()
        return _analysis(str(product.path), (stat.st_mtime_ns, stat.st_size), *inputs)

    def strehl(self, product: ProductContext) -> list[QC1Param]:
        """The Strehl ratio measured on the coadd."""
        analysis = self.analyse(product)
        if analysis is None:
            return [self.text("QC STREHL STAR", "none: no image, QC FWHM PIX, INS.CWLEN or INS.PIXSCALE",
                              "the star QC STREHL is measured on")]
        _, sources, measured = analysis
        if measured is None:
            return [self.text("QC STREHL STAR", f"none: no isolated star bright enough among {len(sources)} sources",
                              "the star QC STREHL is measured on")]
        star = measured.star
        return [self.param("QC STREHL", measured.strehl, "",
                           f"peak/flux of the brightest isolated star over that of the diffraction-limited PSF "
                           f"({DIAMETER_M} m, {OBSCURATION_M} m obscuration)"),
                self.text("QC STREHL STAR", f"x={star.x + 1:.0f} y={star.y + 1:.0f} peak={measured.peak:.1f} "
                          f"flux={measured.flux:.1f} r={measured.radius:.1f}px",
                          "the star QC STREHL is measured on (FITS pixels)")]

    def plot(self, product: ProductContext, target: Path, params: list[QC1Param]) -> Path | None:
        analysis = self.analyse(product)
        if analysis is None:
            return super().plot(product, target, params)
        with DRAWING:
            return _coadd_plot(product, analysis, {p.name: p for p in params}, target)


def _coadd_plot(product: ProductContext, analysis: tuple[CleanImage, tuple[Source, ...], StrehlMeasurement | None],
                params: dict[str, QC1Param], target: Path) -> Path:
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle, Rectangle

    clean, sources, measured = analysis
    header = product.header
    fwhm = _number(header, "ESO QC FWHM PIX") or 1.0
    figure = Figure(figsize=(11, 5))
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
    high = float(np.percentile(clean.data[clean.weight > 0], 99.7))
    left.imshow(clean.data, origin="lower", cmap="gray_r", vmin=clean.background - 3 * clean.noise,
                vmax=max(high, clean.background + 10 * clean.noise))
    for source in sources:
        left.add_patch(Circle((source.x, source.y), 3 * fwhm, fill=False, color="tab:red", lw=0.8))
    if measured is not None:
        side = 12 * fwhm
        left.add_patch(Rectangle((measured.star.x - side / 2, measured.star.y - side / 2), side, side, fill=False,
                                 color="tab:blue", lw=1.0))
    found = params.get("QC NSOURCES")
    recipe = f"recipe detected {found.text}" if found else "recipe count unknown"
    left.set_title(f"{product.pro_catg} {_text(header, 'OBJECT')} {_text(header, 'ESO INS OPTI6 NAME')}: {recipe}, "
                   f"dfos found {len(sources)} (circles)\n{product.path.name}", fontsize=8)
    if measured is None:
        right.text(0.5, 0.5, "no isolated star for the Strehl ratio", ha="center", va="center")
        right.set_axis_off()
    else:
        _profile(right, clean, measured, header, fwhm)
    summary = [f"FWHM {_number(header, 'ESO QC FWHM ARCSEC') or float('nan'):.3f}\"",
               f"BACKGD {_number(header, 'ESO QC BACKGD') or float('nan'):.0f} ADU"]
    summary += [f"{name.removeprefix('QC ')} {params[name].value:.3f}" for name in ("QC ZPOINT", "QC STREHL")
                if name in params and params[name].value is not None]
    right.set_title("  ".join(summary), fontsize=8)
    figure.tight_layout()
    return save_figure(figure, target, dpi=80)


def _profile(axes: Any, clean: CleanImage, measured: StrehlMeasurement, header: Any, fwhm: float) -> None:
    """A cut along the row through the Strehl star, per unit flux, against the diffraction limit's."""
    x, y = int(measured.star.x), int(measured.star.y)
    reach = math.ceil(4 * fwhm)
    row = clean.data[y, max(0, x - reach) : x + reach + 1]
    offsets = np.arange(max(0, x - reach), max(0, x - reach) + row.size) - x
    star = (row - clean.background) / measured.flux
    psf = diffraction_psf(_number(header, "ESO INS CWLEN") or 2.2, _number(header, "ESO INS PIXSCALE") or 0.027,
                          DIAMETER_M, OBSCURATION_M)
    centre = psf.shape[0] // 2
    span = min(reach, centre)
    ideal = psf[centre, centre - span : centre + span + 1] * (measured.ideal_peak_fraction / psf[centre, centre])
    floor = 0.3 * clean.noise / measured.flux
    axes.semilogy(offsets, np.clip(star, floor, None), "o-", color="0.2", ms=3,
                  label=f"star at ({x + 1}, {y + 1}): Strehl {measured.strehl:.3f}")
    axes.semilogy(np.arange(-span, span + 1), np.clip(ideal, floor, None), "-", color="tab:blue",
                  label=f"diffraction limit, {DIAMETER_M} m")
    axes.set_xlabel("pixels from the peak (row cut)")
    axes.set_ylabel("fraction of the star's flux per pixel")
    axes.legend(fontsize=8)
