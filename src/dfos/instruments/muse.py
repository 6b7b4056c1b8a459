"""MUSE, the integral-field spectrograph (24 IFUs)."""

from __future__ import annotations

from dfos.instruments.base import Instrument

__all__ = ["Muse"]


class Muse(Instrument):
    """MUSE plugin: ESO's installed rules (cpl-plugin-muse) plus dfos's product map; no synthetic FITS night."""

    name = "MUSE"
    file_prefix = "MUSE"
    pipeline = "muse"
    product_map = "muse.products.oca"
    telescope = "ESO-VLT-U4"
