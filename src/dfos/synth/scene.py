"""What an imaging template shows, as plain data: the injected truth of :mod:`dfos.synth.imaging`.

Kept apart from the pixel model (numpy, astropy) so that instrument plugins can describe their nights
without importing it: every dfos command loads the plugins, and a batch job must start its recipe fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Detector", "Exposure", "Scene", "Star"]


class Exposure(StrEnum):
    """What an imaging template exposes."""

    DARK = "DARK"
    TWILIGHT = "TWILIGHT"
    """Fading twilight sky: one level per exposure (:attr:`Scene.levels`)."""
    FIELD = "FIELD"
    """Sky plus stars, jittered (standard stars and science targets)."""


@dataclass(frozen=True)
class Star:
    """A star of a field: position in the first exposure (0-based pixels) and magnitude in the filter."""

    x: float
    y: float
    mag: float


@dataclass(frozen=True)
class Scene:
    """The injected truth of one imaging template."""

    exposure: Exposure
    filter: str = "Ks"
    """INS.OPTI6.NAME / ID."""
    dit: float = 10.0
    """DET.DIT [s]; EXPTIME = DIT * NDIT."""
    ndit: int = 1
    fwhm_px: float = 0.0
    """PSF FWHM [px] of the stars."""
    sky_adu: float = 0.0
    """Sky level [ADU per DIT] before the flat field."""
    zero_point: float = 23.0
    """Magnitude giving 1 ADU/s."""
    stars: tuple[Star, ...] = ()
    offsets: tuple[tuple[float, float], ...] = ((0.0, 0.0),)
    """Cumulative offsets (SEQ.CUMOFFSETX/Y) of each exposure [px]; cycled."""
    levels: tuple[float, ...] = ()
    """Twilight levels [ADU per DIT] of each exposure (flats)."""
    ra: float = 0.0
    dec: float = 0.0
    airmass: float = 1.1
    keywords: Mapping[str, str | int | float | bool] = field(default_factory=dict)
    """More header keywords of its frames (dotted)."""

    def offset(self, expno: int) -> tuple[float, float]:
        return self.offsets[(expno - 1) % len(self.offsets)]


@dataclass(frozen=True)
class Detector:
    """The Aladdin3 array at the size frames are written (the real one is 1024 x 1024)."""

    size: int
    keywords: Mapping[str, str | int | float | bool] = field(default_factory=dict)
    """Keywords every frame carries (INS, DET, AOS, TEL)."""
