"""Sources and Strehl ratios on images (dfos.qc.imaging), against stars drawn here with known truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dfos.qc.imaging import ARCSEC_PER_RADIAN, clean_image, diffraction_psf, find_sources, measure_strehl

SIZE = 300
NOISE = 5.0
BACKGROUND = 100.0


def _pixel_gaussian(centre: float, sigma: float, size: int) -> np.ndarray:
    """A unit Gaussian integrated over each pixel (pixel k spans k - 0.5 .. k + 0.5)."""
    edges = (np.arange(size + 1) - 0.5 - centre) / (math.sqrt(2.0) * sigma)
    cumulative = 0.5 * np.array([math.erf(e) for e in edges])
    return np.asarray(np.diff(cumulative), dtype=np.float64)


def _star(image: np.ndarray, x: float, y: float, flux: float, fwhm: float) -> None:
    sigma = fwhm / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    image += flux * np.outer(_pixel_gaussian(y, sigma, image.shape[0]), _pixel_gaussian(x, sigma, image.shape[1]))


def _field(stars: list[tuple[float, float, float]], fwhm: float, seed: int = 3) -> np.ndarray:
    image = BACKGROUND + np.random.default_rng(seed).normal(0.0, NOISE, (SIZE, SIZE))
    for x, y, flux in stars:
        _star(image, x, y, flux, fwhm)
    return image


def _airy_peak_in_pixel(wavelength_um: float, pixscale: float, diameter: float, obscuration: float) -> float:
    """The fraction of the light of an obscured Airy pattern that falls on the pixel centred on it,
    from the analytic pattern (J1 by its integral), integrated on a 41 x 41 grid inside the pixel."""
    wavelength = wavelength_um * 1e-6
    eps = obscuration / diameter
    side = pixscale / ARCSEC_PER_RADIAN
    offsets = (np.arange(41) - 20) / 41 * side
    theta = np.hypot(*np.meshgrid(offsets, offsets)).ravel()
    tau = np.linspace(0.0, math.pi, 401)

    def jinc(v: np.ndarray) -> np.ndarray:  # 2 J1(v) / v, J1(v) = 1/pi int_0^pi cos(tau - v sin tau) dtau
        v = np.maximum(v, 1e-9)
        j1 = np.trapezoid(np.cos(tau[None, :] - v[:, None] * np.sin(tau[None, :])), tau, axis=1) / math.pi
        return np.asarray(2.0 * j1 / v, dtype=np.float64)

    v = math.pi * diameter * theta / wavelength
    shape = (jinc(v) - eps**2 * jinc(eps * v)) / (1.0 - eps**2)
    peak = math.pi * (diameter**2 - obscuration**2) / 4.0 / wavelength**2  # per steradian, unit total light
    return float(np.mean(shape**2) * peak * side**2)


@pytest.mark.parametrize(("wavelength", "pixscale"), [(2.18, 0.02719), (1.66, 0.02719), (2.18, 0.01327)])
def test_the_diffraction_psf_peak_is_the_analytic_one(wavelength: float, pixscale: float) -> None:
    psf = diffraction_psf(wavelength, pixscale)
    centre = psf.shape[0] // 2
    assert np.unravel_index(int(np.argmax(psf)), psf.shape) == (centre, centre)
    assert psf.sum() == pytest.approx(1.0, abs=0.003)  # the light beyond the grid is a few per mille
    assert psf[centre, centre] == pytest.approx(_airy_peak_in_pixel(wavelength, pixscale, 8.2, 1.116), rel=0.005)


def test_an_even_oversampling_is_refused() -> None:
    with pytest.raises(ValueError, match="odd"):
        diffraction_psf(2.18, 0.027, oversample=8)


def test_stars_are_found_and_bad_pixels_are_not() -> None:
    stars = [(60.3, 70.6, 40_000.0), (200.0, 80.0, 20_000.0), (150.7, 220.2, 8_000.0), (240.5, 240.5, 3_000.0)]
    image = _field(stars, fwhm=5.0)
    image[30, 250] += 50_000.0  # a hot pixel
    image[120:122, 120:122] += 9_000.0  # a hot pixel smeared by a shift-and-add
    image[260, 40] = -80_000.0  # a dead pixel divided by a flat
    clean = clean_image(image)
    assert clean.background == pytest.approx(BACKGROUND, abs=0.5)
    assert clean.noise == pytest.approx(NOISE, rel=0.05)
    assert clean.n_bad >= 6
    found = find_sources(clean, fwhm=5.0)
    assert len(found) == len(stars)
    for (x, y, _), source in zip(stars, found, strict=True):  # brightest first
        assert abs(source.x - x) <= 1.0 and abs(source.y - y) <= 1.0


def test_uncovered_pixels_are_background_and_edges_are_noisier() -> None:
    image = _field([(150.0, 150.0, 30_000.0)], fwhm=6.0)
    coverage = np.full(image.shape, 5.0)
    coverage[:, :20] = 0.0  # outside every exposure
    coverage[:, 280:] = 1.0  # one exposure of five: noise sqrt(5) higher
    image[:, :20] = 0.0
    rng = np.random.default_rng(9)
    image[:, 280:] = BACKGROUND + rng.normal(0.0, NOISE * math.sqrt(5.0), (SIZE, 20))
    clean = clean_image(image, coverage)
    assert clean.weight[0, 0] == 0.0 and clean.weight[0, 290] == pytest.approx(0.2)
    assert float(clean.data[:, :20].mean()) == pytest.approx(clean.background)
    assert [(round(s.x), round(s.y)) for s in find_sources(clean, fwhm=6.0)] == [(150, 150)]


@pytest.mark.parametrize("fwhm", [3.0, 5.0, 7.0])
def test_the_strehl_ratio_of_a_gaussian_star_is_its_peak_over_the_diffraction_limit(fwhm: float) -> None:
    psf = diffraction_psf(2.18, 0.02719)
    image = _field([(150.3, 149.6, 200_000.0), (40.0, 250.0, 20_000.0)], fwhm)
    clean = clean_image(image)
    measured = measure_strehl(clean, find_sources(clean, fwhm), fwhm, psf)
    assert measured is not None
    assert (round(measured.star.x), round(measured.star.y)) == (150, 150)
    assert measured.flux == pytest.approx(200_000.0, rel=0.01)
    sigma = fwhm / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    centred_peak = float(_pixel_gaussian(0.0, sigma, 1)[0] ** 2)  # the star's light on the pixel centred on it
    centre = psf.shape[0] // 2
    yy, xx = np.indices(psf.shape)
    ideal = psf[centre, centre] / psf[np.hypot(yy - centre, xx - centre) <= 3 * fwhm].sum()
    assert measured.strehl == pytest.approx(centred_peak / ideal, rel=0.03)


def test_the_strehl_ratio_needs_an_isolated_bright_star() -> None:
    fwhm = 5.0
    psf = diffraction_psf(2.18, 0.02719)
    # the brightest star has a neighbour 20 px (4 FWHM) away: the next brightest is measured
    image = _field([(100.0, 100.0, 100_000.0), (120.0, 100.0, 30_000.0), (220.0, 220.0, 50_000.0)], fwhm)
    clean = clean_image(image)
    measured = measure_strehl(clean, find_sources(clean, fwhm), fwhm, psf)
    assert measured is not None and (measured.star.x, measured.star.y) == (220.0, 220.0)
    # a faint star alone: its peak is below 20 sigma, nothing is measured
    faint = clean_image(_field([(150.0, 150.0, 500.0)], fwhm))
    assert measure_strehl(faint, find_sources(faint, fwhm), fwhm, psf) is None
