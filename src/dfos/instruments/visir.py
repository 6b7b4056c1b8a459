"""VISIR, the mid-infrared imager and spectrograph."""

from __future__ import annotations

from dfos.instruments.base import Instrument

__all__ = ["Visir"]


class Visir(Instrument):
    """VISIR plugin: ESO's installed rules (cpl-plugin-visir) plus dfos's product map; no synthetic FITS night."""

    name = "VISIR"
    file_prefix = "VISIR"
    pipeline = "visir"
    product_map = "visir.products.oca"
    telescope = "ESO-VLT-U3"
