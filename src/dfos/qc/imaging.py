"""Measurements on reduced images (numpy only): bad pixels, sources, and the Strehl ratio of a star
against the diffraction-limited PSF of the telescope.

* :func:`clean_image`: the background and the noise of the fully covered part, and single or
  clustered bad pixels (a value more than ``10 sigma + 2 x |local level|`` off the median of its
  3 x 3 neighbourhood: a hot or dead pixel smeared by a shift-and-add, never the core of a star,
  whose neighbours are at least a third of its peak) replaced by that median;
* :func:`find_sources`: peaks of the image smoothed with a Gaussian of the PSF's FWHM, at least
  ``nsigma`` times the noise of the smoothed image (measured there: resampled images have
  correlated noise), that are the highest point within one FWHM, not closer than 2.5 FWHM to a
  brighter source, and as extended as a star (the smoothed value at least a quarter of the peak
  pixel: a bad pixel left over is far sharper);
* :func:`diffraction_psf`: the PSF of a circular pupil with a central obscuration, sampled at the
  detector's pixels (integrated over each pixel, the peak centred on one), normalised to 1;
* :func:`measure_strehl`: peak / flux of the brightest isolated star divided by the same ratio of
  the diffraction-limited PSF within the same aperture.

The peak of a star is that of a parabola through its brightest pixel and the two neighbours on
each axis, so a star off a pixel centre is not taken for a broader one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["ARCSEC_PER_RADIAN", "CleanImage", "Source", "StrehlMeasurement", "clean_image", "diffraction_psf",
           "find_sources", "measure_strehl"]

ARCSEC_PER_RADIAN = 180.0 / math.pi * 3600.0
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


@dataclass(frozen=True)
class CleanImage:
    """An image with its bad pixels replaced and what was learnt on the way."""

    data: np.ndarray
    """Bad pixels replaced by their neighbourhood's median, uncovered pixels by the background."""
    weight: np.ndarray
    """Relative coverage: 1 where every exposure contributes, 0 where none does."""
    background: float
    noise: float
    """Robust standard deviation of one pixel where the coverage is full."""
    n_bad: int


@dataclass(frozen=True)
class Source:
    x: float
    """Column of the brightest pixel (0-based)."""
    y: float
    peak: float
    """Brightest pixel above the background."""
    snr: float
    """Signal-to-noise ratio of the detection (smoothed image)."""


@dataclass(frozen=True)
class StrehlMeasurement:
    strehl: float
    star: Source
    flux: float
    """Flux above the background within ``radius``."""
    peak: float
    """Interpolated peak above the background."""
    radius: float
    """The aperture radius [px]."""
    ideal_peak_fraction: float
    """Peak / flux within ``radius`` of the diffraction-limited PSF."""


def _clipped(values: np.ndarray, clip: float = 4.0, rounds: int = 6) -> tuple[float, float]:
    """(median, standard deviation) after clipping outliers beyond ``clip`` sigma, repeated."""
    kept = values[np.isfinite(values)].astype(np.float64)
    if kept.size == 0:
        return 0.0, 0.0
    centre = float(np.median(kept))
    sigma = 1.4826 * float(np.median(np.abs(kept - centre)))
    for _ in range(rounds):
        if sigma <= 0:
            break
        inside = kept[np.abs(kept - centre) <= clip * sigma]
        if inside.size == 0:
            break
        centre, sigma = float(np.median(inside)), float(np.std(inside))
    return centre, sigma


def _neighbourhood(image: np.ndarray) -> np.ndarray:
    """The 9 values of each pixel's 3 x 3 neighbourhood (edges repeated), stacked on axis 0."""
    padded = np.pad(image, 1, mode="edge")
    ny, nx = image.shape
    return np.stack([padded[1 + dy : 1 + dy + ny, 1 + dx : 1 + dx + nx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)])


def clean_image(image: np.ndarray, coverage: np.ndarray | None = None) -> CleanImage:
    """See the module docstring; ``coverage`` is a contribution map (exposures per pixel), if any."""
    data = np.asarray(image, dtype=np.float64)
    finite = np.isfinite(data)
    if coverage is None or coverage.shape != data.shape or not np.any(coverage > 0):
        weight = finite.astype(np.float64)
    else:
        weight = np.where(finite, np.clip(np.asarray(coverage, dtype=np.float64), 0, None), 0.0)
        weight /= weight.max()
    full = weight >= 0.999
    background, noise = _clipped(data[full])
    data = np.where(weight > 0, data, background)
    local = np.median(_neighbourhood(data), axis=0)
    local_noise = noise / np.sqrt(np.maximum(weight, 1e-3))
    bad = (np.abs(data - local) > 10.0 * local_noise + 2.0 * np.abs(local - background)) & (weight > 0)
    return CleanImage(np.where(bad, local, data), weight, background, noise, int(bad.sum()))


def _smooth(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian smoothing (edges repeated), normalised kernel."""
    reach = max(1, math.ceil(3.0 * sigma))
    taps = np.exp(-0.5 * (np.arange(-reach, reach + 1) / sigma) ** 2)
    taps /= taps.sum()
    out = image
    for axis in (0, 1):
        padded = np.pad(out, [(reach, reach) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        size = out.shape[axis]
        total = np.zeros_like(out)
        for k, w in enumerate(taps):
            total += w * (padded[k : k + size] if axis == 0 else padded[:, k : k + size])
        out = total
    return out


def find_sources(clean: CleanImage, fwhm: float, nsigma: float = 5.0) -> list[Source]:
    """Sources of the image, brightest (highest S/N) first; see the module docstring."""
    if not fwhm > 0:
        return []
    signal = np.where(clean.weight > 0, clean.data - clean.background, 0.0)
    smooth = _smooth(signal, fwhm / FWHM_PER_SIGMA)
    _, smooth_noise = _clipped(smooth[clean.weight >= 0.999])
    if smooth_noise <= 0:
        return []
    snr = smooth * np.sqrt(clean.weight) / smooth_noise
    reach = max(1, math.ceil(fwhm))
    ny, nx = signal.shape
    candidates = np.argwhere(snr > nsigma)
    order = np.argsort(-snr[candidates[:, 0], candidates[:, 1]], kind="stable")
    found: list[Source] = []
    for y, x in candidates[order][:20_000]:
        y0, y1, x0, x1 = max(0, y - reach), min(ny, y + reach + 1), max(0, x - reach), min(nx, x + reach + 1)
        if smooth[y, x] < smooth[y0:y1, x0:x1].max():
            continue  # the shoulder of something brighter
        if any((y - s.y) ** 2 + (x - s.x) ** 2 < (2.5 * fwhm) ** 2 for s in found):
            continue
        core = signal[y0:y1, x0:x1]
        top = float(core.max())
        if top <= 0 or smooth[y, x] < 0.25 * top:
            continue  # sharper than a star
        py, px = np.unravel_index(int(np.argmax(core)), core.shape)
        found.append(Source(float(x0 + px), float(y0 + py), top, float(snr[y, x])))
    return found


@lru_cache(maxsize=16)
def diffraction_psf(wavelength_um: float, pixscale_arcsec: float, diameter_m: float = 8.2,
                    obscuration_m: float = 1.116, oversample: int = 9, size: int = 1024) -> np.ndarray:
    """The diffraction-limited PSF at the detector's sampling (odd square, peak in the middle pixel, sum 1).

    The pupil (``diameter_m`` with a central obscuration of ``obscuration_m``: the VLT's M1 and M2)
    is Fourier transformed on a grid ``oversample`` times finer than the pixels, then summed into
    pixels (``oversample`` odd: the middle pixel is centred on the peak); the grid of ``size`` samples
    spans ``size / oversample`` pixels, and the light beyond (a few per mille) stays in the normalisation."""
    if oversample % 2 == 0:
        raise ValueError("oversample must be odd (the middle pixel centred on the peak)")
    step = pixscale_arcsec / ARCSEC_PER_RADIAN / oversample  # radians per sample
    pupil_step = wavelength_um * 1e-6 / (size * step)  # metres per pupil sample
    coords = (np.arange(size) - size // 2) * pupil_step
    radius = np.hypot(*np.meshgrid(coords, coords))
    pupil = ((radius <= diameter_m / 2) & (radius >= obscuration_m / 2)).astype(np.float64)
    psf = np.abs(np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(pupil)))) ** 2
    pixels = size // oversample - 1
    start = size // 2 - oversample // 2 - (pixels // 2) * oversample
    binned = psf[start : start + pixels * oversample, start : start + pixels * oversample]
    binned = binned.reshape(pixels, oversample, pixels, oversample).sum(axis=(1, 3))
    binned /= psf.sum()
    binned.setflags(write=False)
    return np.asarray(binned, dtype=np.float64)


def _parabola_peak(left: float, middle: float, right: float) -> float:
    """The top of the parabola through three equally spaced values (the middle one if it is not a maximum)."""
    curvature = left - 2.0 * middle + right
    if curvature >= 0:
        return middle
    offset = 0.5 * (left - right) / curvature
    return middle - 0.25 * (left - right) * offset


def _peak(signal: np.ndarray, x: int, y: int) -> float:
    row = _parabola_peak(signal[y, x - 1], signal[y, x], signal[y, x + 1])
    column = _parabola_peak(signal[y - 1, x], signal[y, x], signal[y + 1, x])
    return max(float(signal[y, x]), row + column - float(signal[y, x]))


def _isolated(star: Source, sources: list[Source], distance: float) -> bool:
    return all(s is star or (s.x - star.x) ** 2 + (s.y - star.y) ** 2 >= distance**2 for s in sources)


def measure_strehl(clean: CleanImage, sources: list[Source], fwhm: float, psf: np.ndarray,
                   min_peak_snr: float = 20.0) -> StrehlMeasurement | None:
    """The Strehl ratio on the brightest isolated star (no other source within 7 FWHM, fully covered
    out to 6 FWHM, peak at least ``min_peak_snr`` times the pixel noise); None when there is none.

    Flux: the sum within 3 FWHM minus the median of the annulus 4 to 6 FWHM times the aperture's
    area; the ideal ratio uses the same aperture on ``psf``."""
    radius, inner, outer = 3.0 * fwhm, 4.0 * fwhm, 6.0 * fwhm
    ny, nx = clean.data.shape
    reach = math.ceil(outer) + 1
    for star in sorted(sources, key=lambda s: -s.peak):
        x, y = int(star.x), int(star.y)
        if star.peak < min_peak_snr * clean.noise or not _isolated(star, sources, 7.0 * fwhm):
            continue
        if not (reach <= x < nx - reach and reach <= y < ny - reach):
            continue
        window = np.s_[y - reach : y + reach + 1, x - reach : x + reach + 1]
        if clean.weight[window].min() < 0.999:
            continue
        yy, xx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
        distance = np.hypot(yy, xx)
        cut = clean.data[window]
        level = float(np.median(cut[(distance >= inner) & (distance <= outer)]))
        signal = cut - level
        flux = float(signal[distance <= radius].sum())
        if flux <= 0:
            continue
        peak = _peak(signal, reach, reach)
        centre = psf.shape[0] // 2
        py, px = np.mgrid[: psf.shape[0], : psf.shape[1]]
        ideal = float(psf[centre, centre] / psf[np.hypot(py - centre, px - centre) <= radius].sum())
        return StrehlMeasurement(peak / flux / ideal, star, flux, peak, radius, ideal)
    return None
