"""The synthetic imaging model: what is injected is what the pixels hold (the truth QC tests compare with)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
from astropy.io import fits

from dfos.instruments.naco import FIELDS, SMALL_SIZE, STANDARD, ZERO_POINT, Naco
from dfos.synth.imaging import (
    DARK_ADU,
    DEAD_PIXELS_PER_MPIX,
    HOT_PIXELS_PER_MPIX,
    Exposure,
    Scene,
    Star,
    illumination,
    pixel_maps,
    star_flux,
)
from dfos.synth.plan import FramePlan, expand

DAY = date(2013, 2, 12)


def _frames(category: str) -> list[FramePlan]:
    naco = Naco()
    return [f for f in expand(naco.night(DAY), naco.file_prefix) if f.template.category == category]


def test_a_star_carries_the_flux_its_magnitude_and_the_zero_point_give() -> None:
    scene = Scene(Exposure.FIELD, "Ks", dit=10.0, fwhm_px=5.0, zero_point=23.0, stars=(Star(100.0, 100.0, 13.0),))
    light = illumination(scene, 1, 200)
    assert star_flux(scene.stars[0], scene) == 10 ** (0.4 * 10.0) * 10.0
    assert abs(light.sum() - star_flux(scene.stars[0], scene)) / light.sum() < 1e-3
    y, x = np.unravel_index(np.argmax(light), light.shape)
    assert (int(x), int(y)) == (100, 100)


def test_jittered_stars_move_by_the_cumulative_offsets_in_the_header() -> None:
    """naco_img_jitter's convention: a source at (x, y) in frame 1 lies at (x + CUMOFFSETX, y + CUMOFFSETY)."""
    frames = _frames("IM_JITTER_OBJ")[:5]
    naco = Naco()
    arm = naco.arms(small=True)["CONICA"]
    first = frames[0].template.scene
    assert first is not None
    star = max(first.stars, key=lambda s: -s.mag)
    for frame in frames:
        hdul = naco.render(frame, arm, seed=1)
        header, data = hdul[0].header, hdul[0].data
        dx, dy = header["HIERARCH ESO SEQ CUMOFFSETX"], header["HIERARCH ESO SEQ CUMOFFSETY"]
        assert isinstance(dx, float) and isinstance(dy, float)  # the recipe refuses integers
        x, y = round(star.x + dx), round(star.y + dy)
        patch = data[y - 3:y + 4, x - 3:x + 4]
        assert patch.max() == data[y - 12:y + 13, x - 12:x + 13].max()  # the brightest star is where it should be
        assert patch.max() > DARK_ADU + first.sky_adu + 200


def test_a_naco_frame_has_what_each_recipe_needs() -> None:
    naco = Naco()
    arm = naco.arms(small=True)["CONICA"]
    header = naco.render(_frames("CAL_STD_JITTER")[0], arm, seed=1)[0].header
    assert header["INSTRUME"] == "NAOS+CONICA" and header["NAXIS1"] == SMALL_SIZE
    assert header["HIERARCH ESO DET NCORRS"] == 4 and isinstance(header["HIERARCH ESO DET NCORRS"], int)
    for key in ("ESO DET DIT", "ESO DET NDIT", "ESO INS OPTI6 ID", "ESO INS OPTI6 NAME", "ESO INS OPTI7 NAME",
                "ESO INS PIXSCALE", "ESO TEL AMBI RHUM", "ESO TEL AIRM START", "ESO TEL AIRM END", "AIRMASS",
                "ESO DET WIN NX", "ESO DET MODE NAME", "ESO DET NCORRS NAME", "ESO TPL ID",
                "ESO AOS RTC DET DST R0MEAN"):
        assert f"HIERARCH {key}" in header or key in header, key
    assert (header["RA"], header["DEC"]) == (STANDARD[1], STANDARD[2])
    assert header["EXPTIME"] == header["HIERARCH ESO DET DIT"] * header["HIERARCH ESO DET NDIT"]


def test_the_detector_maps_are_fixed_and_scale_with_the_area() -> None:
    flat, hot = pixel_maps(SMALL_SIZE)
    area = SMALL_SIZE**2 / 1e6
    assert (flat == 0).sum() == round(DEAD_PIXELS_PER_MPIX * area)
    assert (hot > 0).sum() == round(HOT_PIXELS_PER_MPIX * area)
    assert abs(np.median(flat[flat > 0]) - 1.0) < 0.002  # the flat keeps the sky level: background truth is sky
    again, _ = pixel_maps(SMALL_SIZE)
    assert again is flat


def test_the_night_is_deterministic_and_full_size_is_aladdin3(tmp_path: Path) -> None:
    naco = Naco()
    frame = _frames("IM_JITTER_OBJ")[0]
    small = naco.arms(small=True)["CONICA"]
    one, two = naco.render(frame, small, seed=3), naco.render(frame, small, seed=3)
    assert np.array_equal(one[0].data, two[0].data)
    assert not np.array_equal(one[0].data, naco.render(frame, small, seed=4)[0].data)
    full = naco.render(frame, naco.arms(small=False)["CONICA"], seed=3)[0]
    assert full.data.shape == (1024, 1024) and full.header["HIERARCH ESO DET WIN NX"] == 1024
    path = tmp_path / "frame.fits"
    one.writeto(path)
    assert fits.getval(path, "HIERARCH ESO DPR CATG") == "SCIENCE"


def test_the_night_has_several_targets_and_filters() -> None:
    naco = Naco()
    templates = naco.night(DAY)
    science = [t for t in templates if t.category == "IM_JITTER_OBJ"]
    assert len(science) == len(FIELDS) >= 3 and {t.scene.filter for t in science if t.scene} == set(ZERO_POINT)
    flats = {t.scene.filter for t in templates if t.category == "CAL_FLAT_TW" and t.scene}
    standards = {t.scene.filter for t in templates if t.category == "CAL_STD_JITTER" and t.scene}
    assert flats == standards == set(ZERO_POINT)  # every science filter has its flat and its zero point
