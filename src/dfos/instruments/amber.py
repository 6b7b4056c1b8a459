"""AMBER, the VLTI near-infrared spectro-interferometer."""

from __future__ import annotations

from dfos.instruments.base import Instrument

__all__ = ["Amber"]


class Amber(Instrument):
    """AMBER plugin: ESO's installed rules (cpl-plugin-amber) plus dfos's product map; no synthetic FITS night."""

    name = "AMBER"
    file_prefix = "AMBER"
    pipeline = "amber"
    product_map = "amber.products.oca"
    telescope = "ESO-VLTI-U1234"
    """VLTI: the unit telescopes combined (auxiliary telescopes write ESO-VLTI-A1234)."""
