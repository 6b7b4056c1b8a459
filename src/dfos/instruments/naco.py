"""NACO (NAOS+CONICA), the adaptive-optics near-infrared imager and spectrograph.

Its frames say ``INSTRUME = "NAOS+CONICA"``; dfos calls it NACO (DFO_INSTRUMENT, file prefix).
Its rules are ESO's installed ``naco.oca`` plus dfos's product map.  Its synthetic night is an
imaging night (:mod:`dfos.synth.imaging`): darks, twilight flats in Ks and H, a standard star in
both filters and three jittered science fields, with the injected truth (PSF FWHM, sky, zero point,
star positions) in each template's :class:`~dfos.synth.imaging.Scene`.  The standard-star catalogue
the zero-point recipe needs is a static calibration made from the same truth
(:meth:`Naco.static_calibrations`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, ClassVar

from dfos.instruments.base import Instrument, StaticCalibration
from dfos.qc.idp import ImageProfile
from dfos.synth.plan import Arm, Chip, FramePlan, Signal, Template
from dfos.synth.scene import Detector, Exposure, Scene, Star

if TYPE_CHECKING:
    from astropy.io import fits

__all__ = ["FULL_SIZE", "SMALL_SIZE", "STANDARD", "Naco"]

#: Frame sizes: the real Aladdin3 array, and the smallest at which every recipe runs with its default
#: parameters (naco_img_dark/twflat reject a 200-pixel border; naco_img_zpoint's apertures reach 3").
FULL_SIZE = 1024
SMALL_SIZE = 512

#: Injected zero points [mag for 1 ADU/s] per filter, and the filters' central wavelengths [um].
ZERO_POINT = {"Ks": 23.0, "H": 23.4}
CWLEN = {"Ks": 2.18, "H": 1.66}

#: The standard star: name, RA, DEC [deg], spectral type, magnitudes (99: unknown).
STANDARD = ("SYNSTD1", 120.5, -45.25, "A0V", {"J": 11.2, "H": 11.1, "K": 11.0, "Ks": 11.0,
                                                 "L": 99.0, "M": 99.0, "Lp": 99.0, "Mp": 99.0})

#: The science fields: name, RA, DEC, filter, PSF FWHM [px], sky [ADU per DIT], number of stars.
FIELDS = (
    ("SYN_FIELD_1", 150.10, -30.20, "Ks", 6.5, 1500.0, 8),
    ("SYN_FIELD_2", 210.40, -60.70, "H", 7.0, 3000.0, 6),
    ("SYN_FIELD_3", 250.80, -20.35, "Ks", 5.5, 2000.0, 10),
)
JITTER = ((0.0, 0.0), (25.0, -18.0), (-22.0, 27.0), (30.0, 21.0), (-27.0, -24.0))
"""Cumulative offsets [px] of the five exposures of a science jitter template (within the recipe's 40 px search)."""


def _at(day: date, hhmmss: str, next_day: bool = False) -> datetime:
    return datetime.combine(day + timedelta(days=1) if next_day else day, time.fromisoformat(hhmmss))


def _field_stars(name: str, count: int, size: int) -> tuple[Star, ...]:
    """Stars spread over a field, away from the edges the jitter uncovers; deterministic per field."""
    import numpy as np  # (plugins load with every command: numpy only when a night is described)

    rng = np.random.default_rng(sum(map(ord, name)))
    margin = 0.15 * size
    stars: list[Star] = []
    tries = 0
    while len(stars) < count and tries < 10_000:
        tries += 1
        x, y = rng.uniform(margin, size - margin, 2)
        if all(np.hypot(x - s.x, y - s.y) > 0.12 * size for s in stars):  # isolated: clean apertures
            stars.append(Star(round(float(x), 2), round(float(y), 2), round(float(rng.uniform(13.5, 15.5)), 2)))
    return tuple(stars)


def _std_scene(band: str, size: int) -> Scene:
    name, ra, dec, _, mags = STANDARD
    base, step = 0.3 * size, 0.4 * size
    return Scene(Exposure.FIELD, band, dit=10.0, ndit=1, fwhm_px=5.0, sky_adu=400.0, zero_point=ZERO_POINT[band],
                 stars=(Star(base, base, mags[band]),),
                 offsets=((0.0, 0.0), (step, 0.0), (step, step), (0.0, step)), ra=ra, dec=dec, airmass=1.15,
                 keywords={"INS.CWLEN": CWLEN[band], "OBS.TARG.NAME": name})


class Naco(Instrument):
    """NACO plugin: ESO's installed rules (cpl-plugin-naco) plus dfos's product map; a synthetic imaging night."""

    name = "NACO"
    instrume: ClassVar[tuple[str, ...]] = ("NAOS+CONICA",)
    file_prefix = "NACO"
    pipeline = "naco"
    product_map = "naco.products.oca"
    telescope = "ESO-VLT-U4"
    """UT4 (Yepun) until 2013, UT1 from 2014."""
    mcal_code = "NA"
    setup_keys = ("INS.OPTI7.NAME", "INS.OPTI6.NAME", "DET.MODE.NAME")
    kinds: ClassVar[Mapping[str, str]] = {
        "NACO_IMG_DARK_AVG": "MDRK", "NACO_IMG_DARK_HOT": "DHOT", "NACO_IMG_DARK_COLD": "DCLD",
        "NACO_IMG_DARK_DEV": "DDEV", "MASTER_IMG_FLAT": "MFLT", "MASTER_IMG_FLAT_BADPIX": "MBPM",
        "ZPOINT_TABLE": "ZPNT", "IMG_STD_CATALOG": "GSTD", "COADDED_IMG": "SCOA",
    }

    def calib_kind(self, pro_catg: str) -> str:
        return self.kinds.get(pro_catg.upper()) or super().calib_kind(pro_catg)

    def calib_setup(self, pro_catg: str, header: Mapping[str, object]) -> str:
        """The filter (and DIT for darks): NA_MFLT_130212A_Ks, NA_MDRK_130212A_10s."""
        if pro_catg.upper().startswith("NACO_IMG_DARK"):
            dit = header.get("ESO DET DIT")
            return f"{dit:g}s" if isinstance(dit, (int, float)) else "NA"
        band = header.get("ESO INS OPTI6 NAME")
        return str(band) if band else "NA"

    def idp_image(self, pro_catg: str) -> ImageProfile | None:
        """``naco_img_jitter``'s coadd (COADDED_IMG): the mean of the sky-subtracted jittered frames, each
        the mean of its NDIT sub-integrations, so ADU of one DIT; zero points from the standard-star
        catalogue's (Vega) magnitudes; NACO is an adaptive-optics instrument."""
        if pro_catg.upper() != "COADDED_IMG":
            return None
        return ImageProfile(prodcatg="SCIENCE.IMAGE", bunit="ADU", unit_seconds_key="DET.DIT",
                            filter_key="INS.OPTI6.NAME", photsys="VEGA", adaptive_optics=True)

    def arms(self, small: bool) -> dict[str, Arm]:
        size = SMALL_SIZE if small else FULL_SIZE
        keywords: dict[str, str | int | float | bool] = {
            "DET.NAME": "CONICA-ALADDIN3", "DET.CHIP.NAME": "Aladdin3", "DET.NCORRS": 4,
            "DET.NCORRS.NAME": "Double_RdRstRd", "DET.MODE.NAME": "HighDynamic",
            "INS.MODE": "Imaging", "INS.OPTI3.NAME": "Full", "INS.OPTI4.NAME": "empty", "INS.OPTI5.NAME": "empty",
            "INS.OPTI7.NAME": "S27", "INS.PIXSCALE": 0.02719, "INS.CWLEN": 2.18,
            "AOS.INS.DICH.POSNAM": "N20C80", "AOS.OCS.WFS.MODE": "VIS", "AOS.OCS.WFS.TYPE": "VIS",
            "AOS.RTC.DET.DST.ECMEAN": 0.45, "AOS.RTC.DET.DST.FLUXMEAN": 1500.0, "AOS.RTC.DET.DST.L0MEAN": 22.0,
            "AOS.RTC.DET.DST.R0MEAN": 0.12, "AOS.RTC.DET.DST.T0MEAN": 0.004, "TEL.AMBI.RHUM": 12.0,
        }
        return {"CONICA": Arm("CONICA", (Chip("Aladdin3", "Aladdin3", size, size, bias_adu=0.0, ron_e=40.0,
                                              conad=10.0, prscx=0, ovscx=0),), keywords)}

    def night(self, day: date) -> list[Template]:
        """Afternoon darks, evening twilight flats (Ks, H), a standard star in Ks and H, three science fields.

        The scenes are laid out for :data:`SMALL_SIZE`; :meth:`render` scales positions to the frame size.
        """
        size = SMALL_SIZE
        dark = Scene(Exposure.DARK, "Ks", dit=10.0, ndit=1)
        templates = [
            Template("CAL_DARK", "CONICA", ("CALIB", "DARK", "IMAGE"), Signal.DARK, _at(day, "17:00:00.012"),
                     3, 10.0, "NACO_img_cal_Darks", 200300001, scene=dark),
        ]
        for number, (band, start) in enumerate((("Ks", "22:40:00.112"), ("H", "22:52:00.212")), start=2):
            flat = Scene(Exposure.TWILIGHT, band, dit=1.0, levels=(12000.0, 9500.0, 7200.0, 5000.0, 3000.0),
                         keywords={"INS.CWLEN": CWLEN[band]})
            templates.append(Template("CAL_FLAT_TW", "CONICA", ("CALIB", "FLAT,SKY", "IMAGE"), Signal.FLAT,
                                      _at(day, start), 5, 1.0, "NACO_img_cal_TwFlats", 200300000 + number,
                                      scene=flat))
        for number, (band, start) in enumerate((("Ks", "00:20:00.312"), ("H", "00:32:00.412")), start=4):
            templates.append(Template("CAL_STD_JITTER", "CONICA", ("CALIB", "STD", "IMAGE,JITTER"), Signal.SCIENCE,
                                      _at(day, start, True), 4, 10.0, "NACO_img_cal_StandardStar",
                                      200300000 + number, obs_name=f"STD_{band}", object=STANDARD[0],
                                      scene=_std_scene(band, size)))
        for number, (name, ra, dec, band, fwhm, sky, count) in enumerate(FIELDS):
            begins = _at(day, f"{1 + number:02d}:30:00.{512 + 100 * number}", True)
            scene = Scene(Exposure.FIELD, band, dit=10.0, ndit=6, fwhm_px=fwhm, sky_adu=sky,
                          zero_point=ZERO_POINT[band], stars=_field_stars(name, count, size), offsets=JITTER,
                          ra=ra, dec=dec, airmass=1.2, keywords={"INS.CWLEN": CWLEN[band], "OBS.TARG.NAME": name})
            templates.append(Template("IM_JITTER_OBJ", "CONICA", ("SCIENCE", "OBJECT", "IMAGE,JITTER"),
                                      Signal.SCIENCE, begins, 5, 60.0, "NACO_img_obs_AutoJitter", 200310001 + number,
                                      obs_name=name, prog_id="090.C-0456(A)", object=name, scene=scene))
        return templates

    def render(self, frame: FramePlan, arm: Arm, seed: int) -> fits.HDUList:
        """An imaging frame (:func:`~dfos.synth.imaging.render_imaging`), its scene scaled to the arm's size."""
        from dfos.synth.imaging import render_imaging
        from dfos.synth.render import primary_cards

        scene = frame.template.scene
        if scene is None:
            return super().render(frame, arm, seed)
        size = arm.chips[0].nx
        scale = size / SMALL_SIZE
        scene = _scaled(scene, scale)
        primary = primary_cards(frame, self.instrume[0], self.telescope)
        return render_imaging(frame, primary, scene, Detector(size, arm.keywords), seed)

    def static_calibrations(self) -> list[StaticCalibration]:
        """The standard-star catalogue (IMG_STD_CATALOG), made by naco_util_img_std_cat from a one-line text
        file of the injected standard: name, RA, DEC, spectral type, J H K Ks L M Lp Mp."""
        name, ra, dec, sptype, mags = STANDARD
        line = " ".join([name, f"{ra:g}", f"{dec:g}", sptype, *(f"{mags[b]:g}" for b in mags)])
        return [StaticCalibration("NA_GSTD_SYNTH", "naco_util_img_std_cat", "IMG_STD_ASCII", line + "\n",
                                  "IMG_STD_CATALOG")]


def _scaled(scene: Scene, scale: float) -> Scene:
    """A scene laid out at :data:`SMALL_SIZE` at another size: positions and offsets scale, the PSF does not."""
    from dataclasses import replace

    if scale == 1.0:
        return scene
    stars = tuple(Star(s.x * scale, s.y * scale, s.mag) for s in scene.stars)
    offsets = scene.offsets if scene.exposure is not Exposure.FIELD or len(scene.stars) != 1 else \
        tuple((dx * scale, dy * scale) for dx, dy in scene.offsets)
    return replace(scene, stars=stars, offsets=offsets)
