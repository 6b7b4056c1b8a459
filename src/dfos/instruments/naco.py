"""NACO (NAOS+CONICA), the adaptive-optics near-infrared imager and spectrograph.

Its frames say ``INSTRUME = "NAOS+CONICA"``; dfos calls it NACO (DFO_INSTRUMENT, file prefix).
"""

from __future__ import annotations

from typing import ClassVar

from dfos.instruments.base import Instrument

__all__ = ["Naco"]


class Naco(Instrument):
    """NACO plugin: ESO's installed rules (cpl-plugin-naco) plus dfos's product map; no synthetic FITS night."""

    name = "NACO"
    instrume: ClassVar[tuple[str, ...]] = ("NAOS+CONICA",)
    file_prefix = "NACO"
    pipeline = "naco"
    product_map = "naco.products.oca"
    telescope = "ESO-VLT-U4"
    """UT4 (Yepun) until 2013, UT1 from 2014."""
