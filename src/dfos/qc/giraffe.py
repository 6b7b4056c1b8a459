"""GIRAFFE QC procedures: master bias, master dark (already per second), master fibre and screen flats
(the synthetic nights have no GIRAFFE flats yet: bias and dark are measured on real pipeline products
in the tests, the flat procedure on a master fibre flat the test makes)."""

from __future__ import annotations

from dfos.qc.standard import MasterBiasQC, MasterDarkQC, MasterFlatQC

__all__ = ["GiraffeBias", "GiraffeDark", "GiraffeFlat"]


class GiraffeBias(MasterBiasQC):
    name = "giraffe_bias"
    instrument = "GIRAFFE"
    pro_catgs = ("MASTER_BIAS",)


class GiraffeDark(MasterDarkQC):
    name = "giraffe_dark"
    instrument = "GIRAFFE"
    pro_catgs = ("MASTER_DARK",)
    per_second = True


class GiraffeFlat(MasterFlatQC):
    name = "giraffe_flat"
    instrument = "GIRAFFE"
    pro_catgs = ("MASTER_FIBER_FLAT", "MASTER_SCREEN_FLAT")
