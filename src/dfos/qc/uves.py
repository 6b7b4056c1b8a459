"""UVES QC procedures: master bias (blue, red lower and upper chips), master dark, master flat."""

from __future__ import annotations

from dfos.qc.standard import MasterBiasQC, MasterDarkQC, MasterFlatQC

__all__ = ["UvesBias", "UvesDark", "UvesFlat"]

_RED_CHIPS = ("REDL", "REDU")


class UvesBias(MasterBiasQC):
    name = "uves_bias"
    instrument = "UVES"
    pro_catgs = ("MASTER_BIAS_*",)
    chip_extensions = _RED_CHIPS


class UvesDark(MasterDarkQC):
    name = "uves_dark"
    instrument = "UVES"
    pro_catgs = ("MASTER_DARK_*",)
    chip_extensions = _RED_CHIPS


class UvesFlat(MasterFlatQC):
    name = "uves_flat"
    instrument = "UVES"
    pro_catgs = ("MASTER_FLAT_*",)
    chip_extensions = _RED_CHIPS
