"""Frames as association sees them: a name, its keywords, and what classification added."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CATEGORY_KEYS", "Frame", "mid_exposure"]

#: The classification tags that name a frame's category (its SOF tag), in order: Gasgano's and
#: DFOS's DO.CATG, then Reflex's REFLEX.CATG.
CATEGORY_KEYS = ("DO.CATG", "REFLEX.CATG")

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class Frame:
    """One raw frame or calibration product header."""

    name: str
    """File name (``UVES.2013-02-12T18:05:00.500.fits``, ``r.UVES..._0000.fits``)."""
    header: Mapping[str, Any]
    """Dotted keywords of the primary header."""
    classes: Mapping[str, Any] = field(default_factory=dict)
    """Keys assigned by classification (``DO.CATG``, ``RAW.TYPE`` ...)."""
    path: str = ""
    """Where the header was read from (``.hdr`` or ``.fits``), for reports."""

    def get(self, key: str, default: Any = None) -> Any:
        """A keyword, classification results first."""
        if key in self.classes:
            return self.classes[key]
        return self.header.get(key, default)

    @property
    def category_key(self) -> str | None:
        """The first of :data:`CATEGORY_KEYS` that classification gave the frame, None when it has none."""
        return next((k for k in CATEGORY_KEYS if self.classes.get(k) not in (None, "")), None)

    @property
    def category(self) -> Any:
        """Its category (the tag a recipe gets it with): the value of :attr:`category_key`, or None."""
        key = self.category_key
        return None if key is None else self.classes[key]

    @property
    def view(self) -> Mapping[str, Any]:
        """Header and classification as one mapping (classification wins)."""
        return {**self.header, **self.classes}

    @property
    def mjd(self) -> float:
        """MJD-OBS (0.0 when absent or not a number)."""
        value = self.header.get("MJD-OBS")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def mid_exposure(frame: Frame) -> float:
    """MJD of mid-exposure: MJD-OBS + EXPTIME/2 (DFOS's MJD-OBS_MOD)."""
    exptime = frame.header.get("EXPTIME")
    half = float(exptime) / 2.0 if isinstance(exptime, (int, float)) and not isinstance(exptime, bool) else 0.0
    return frame.mjd + half / SECONDS_PER_DAY
