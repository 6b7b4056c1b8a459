"""VIMOS, the visible imager and multi-object/IFU spectrograph (four quadrants)."""

from __future__ import annotations

from dfos.instruments.base import Instrument

__all__ = ["Vimos"]


class Vimos(Instrument):
    """VIMOS plugin: ESO's installed rules (cpl-plugin-vimos) plus dfos's product map; no synthetic FITS night."""

    name = "VIMOS"
    file_prefix = "VIMOS"
    pipeline = "vimos"
    product_map = "vimos.products.oca"
    telescope = "ESO-VLT-U3"
