"""Synthetic near-infrared imaging frames (NACO): darks, twilight flats, standard stars and jittered
science fields, with every injected signal recorded as the truth QC must recover.

Pixel model (float32, ADU of one DIT; NACO writes the average of its NDIT sub-integrations)::

    dark:     D = DARK_ADU + hot pixels
    flat:     F = 1 + a smooth 2 % pattern, 0 at dead pixels
    frame:    ADU = D + F * (S + stars) + N(0, RON) + N(0, sqrt(F * (S + stars) / GAIN))

with S the twilight level (flats) or the sky (standard and science fields), and the stars Gaussian
PSFs of the template's FWHM whose total flux in one DIT is ``10**(0.4 * (ZP - mag)) * DIT`` ADU
(``ZP``: the injected zero point, magnitudes for 1 ADU/s).  A star at (x, y) in the first exposure of
a jitter template lies at (x + CUMOFFSETX, y + CUMOFFSETY) in the others: ``naco_img_jitter``'s
sign convention (measured, docs/synthetic-data.md).

The values follow ``shared/docs/science-cascade.md`` (measured with ``cpl-plugin-naco 4.4.11``):
which keywords each recipe needs, and that the default recipe parameters need frames of at least
512 pixels (the dark's and flat's 200-pixel border, the zero point's 2-3 arcsecond apertures).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from astropy.io import fits

from dfos.headers.keywords import to_fits
from dfos.synth.plan import FramePlan
from dfos.synth.scene import Detector, Exposure, Scene, Star

__all__ = [
    "DARK_ADU",
    "FLAT_RMS",
    "GAIN_E_PER_ADU",
    "RON_ADU",
    "Detector",
    "Exposure",
    "Scene",
    "Star",
    "render_imaging",
    "star_flux",
]

#: Injected detector truth.
DARK_ADU = 50.0
RON_ADU = 4.0
GAIN_E_PER_ADU = 10.0
FLAT_RMS = 0.02
"""Amplitude of the flat pattern (relative)."""
HOT_PIXELS_PER_MPIX = 100.0
DEAD_PIXELS_PER_MPIX = 50.0
HOT_ADU = 3000.0


def star_flux(star: Star, scene: Scene) -> float:
    """Total ADU of a star in one DIT."""
    return float(10 ** (0.4 * (scene.zero_point - star.mag)) * scene.dit)


def _pixel_maps(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(flat, hot): the same for every frame of a detector size (fixed seed: they are the detector)."""
    rng = np.random.default_rng(20_130_212)
    y, x = np.mgrid[0:size, 0:size] / size
    # pixel-to-pixel sensitivity plus a gradient through the centre: every centred window has a mean of 1,
    # so the recipes' normalisation (on the frame's centre) gives back this flat itself
    flat = 1.0 + FLAT_RMS * rng.standard_normal((size, size)) + 0.01 * ((x - 0.5) - 0.5 * (y - 0.5))
    area = size * size / 1e6
    dead = rng.integers(0, size, (max(1, round(DEAD_PIXELS_PER_MPIX * area)), 2))
    flat[dead[:, 1], dead[:, 0]] = 0.0
    hot = np.zeros((size, size))
    spots = rng.integers(0, size, (max(1, round(HOT_PIXELS_PER_MPIX * area)), 2))
    hot[spots[:, 1], spots[:, 0]] = HOT_ADU
    return flat, hot


_MAPS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def pixel_maps(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The detector's flat field and hot pixels at ``size`` (cached)."""
    if size not in _MAPS:
        _MAPS[size] = _pixel_maps(size)
    return _MAPS[size]


def _add_stars(image: np.ndarray, scene: Scene, dx: float, dy: float) -> None:
    sigma = scene.fwhm_px / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    reach = int(np.ceil(6 * sigma)) + 1
    size = image.shape[0]
    for star in scene.stars:
        cx, cy = star.x + dx, star.y + dy
        x0, x1 = max(0, int(cx) - reach), min(size, int(cx) + reach + 1)
        y0, y1 = max(0, int(cy) - reach), min(size, int(cy) + reach + 1)
        if x1 <= x0 or y1 <= y0:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        psf = np.exp(-0.5 * ((xx - cx) ** 2 + (yy - cy) ** 2) / sigma**2) / (2 * np.pi * sigma**2)
        image[y0:y1, x0:x1] += star_flux(star, scene) * psf


def illumination(scene: Scene, expno: int, size: int) -> np.ndarray:
    """ADU of one DIT arriving at the detector, before the flat field."""
    image = np.zeros((size, size))
    if scene.exposure is Exposure.TWILIGHT:
        image += scene.levels[(expno - 1) % len(scene.levels)]
    elif scene.exposure is Exposure.FIELD:
        image += scene.sky_adu
        _add_stars(image, scene, *scene.offset(expno))
    return image


def pixels(scene: Scene, expno: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """The raw frame in ADU (float32)."""
    flat, hot = pixel_maps(size)
    light = flat * illumination(scene, expno, size)
    shot = np.sqrt(np.clip(light, 0.0, None) / GAIN_E_PER_ADU)
    adu = DARK_ADU + hot + light + rng.standard_normal((size, size)) * np.hypot(RON_ADU, shot)
    return np.asarray(adu, dtype=np.float32)


def _cards(frame: FramePlan, scene: Scene, detector: Detector) -> dict[str, str | int | float | bool]:
    dx, dy = scene.offset(frame.expno)
    return {
        **detector.keywords,
        "RA": scene.ra,
        "DEC": scene.dec,
        "EXPTIME": scene.dit * scene.ndit,
        "AIRMASS": scene.airmass,
        "DET.DIT": scene.dit,
        "DET.NDIT": scene.ndit,
        "DET.WIN.NX": detector.size,
        "DET.WIN.NY": detector.size,
        "INS.OPTI6.NAME": scene.filter,
        "INS.OPTI6.ID": scene.filter,
        "SEQ.CUMOFFSETX": float(dx),
        "SEQ.CUMOFFSETY": float(dy),
        "TEL.AIRM.START": scene.airmass,
        "TEL.AIRM.END": round(scene.airmass + 0.01, 3),
        **scene.keywords,
    }


def render_imaging(frame: FramePlan, primary: Mapping[str, object], scene: Scene, detector: Detector,
                   seed: int) -> fits.HDUList:
    """One raw imaging frame: ``primary`` (the common cards: ARCFILE, DATE-OBS, TPL, DPR ...) plus the
    scene's and detector's keywords, and the pixels."""
    from dfos.synth.render import frame_seed

    rng = np.random.default_rng(frame_seed(seed, frame))
    header = fits.Header()
    for key, value in {**primary, **_cards(frame, scene, detector)}.items():
        header[to_fits(key)] = value
    return fits.HDUList([fits.PrimaryHDU(data=pixels(scene, frame.expno, detector.size, rng), header=header)])
