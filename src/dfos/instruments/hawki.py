"""HAWK-I, the wide-field near-infrared imager (four HAWAII-2RG chips); its frames say INSTRUME = "HAWKI"."""

from __future__ import annotations

from dfos.instruments.base import Instrument

__all__ = ["Hawki"]


class Hawki(Instrument):
    """HAWKI plugin: ESO's installed rules (cpl-plugin-hawki) plus dfos's product map; no synthetic FITS night."""

    name = "HAWKI"
    file_prefix = "HAWKI"
    pipeline = "hawki"
    product_map = "hawki.products.oca"
    telescope = "ESO-VLT-U4"
