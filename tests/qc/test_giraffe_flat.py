"""The GIRAFFE flat procedure, on a master fibre flat made here (the synthetic nights have no GIRAFFE
flats): lit fibres and the background between them, and the QC plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from dfos.qc.giraffe import GiraffeFlat
from dfos.qc.procedures import ProductContext, procedures_for


def master_fibre_flat(shape: tuple[int, int] = (400, 300), lit: float = 1800.0, background: float = 25.0) -> np.ndarray:
    """Background with noise, and every 10th band of 3 columns lit (a fibre every 10 pixels)."""
    rng = np.random.default_rng(20130212)
    image = rng.normal(background, 2.0, shape)
    for x in range(5, shape[1], 10):
        image[:, x : x + 3] = rng.normal(lit, 20.0, (shape[0], 3))
    return image.astype(np.float32)


def test_the_giraffe_flat_procedure_is_registered_for_both_flat_kinds() -> None:
    for catg in ("MASTER_FIBER_FLAT", "MASTER_SCREEN_FLAT"):
        assert [p.name for p in procedures_for("GIRAFFE", catg, "FLAT")] == ["giraffe_flat"]
    assert procedures_for("UVES", "MASTER_FIBER_FLAT", "FLAT") == []


def test_lit_fibres_and_background_are_measured_and_plotted(tmp_path: Path) -> None:
    path = tmp_path / "GI_MFFL.fits"
    image = master_fibre_flat()
    fits.PrimaryHDU(image, fits.Header({"HIERARCH ESO PRO CATG": "MASTER_FIBER_FLAT"})).writeto(path)
    product = ProductContext(path, "MASTER_FIBER_FLAT", "FLAT", fits.getheader(path), fits.getdata(path), ())
    procedure = GiraffeFlat()
    params = {p.name: p for p in procedure.measure(product)}
    assert params["QC FLAT LEVEL"].value == pytest.approx(1800.0, rel=0.05)  # 30% of the pixels are lit
    assert params["QC FLAT BKG"].value == pytest.approx(25.0, abs=4.0)
    assert {p.source for p in params.values()} == {"procedure:giraffe_flat"}
    plot = procedure.plot(product, tmp_path / "GI_MFFL.png", list(params.values()))
    assert plot is not None and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_table_product_gives_no_flat_parameters(tmp_path: Path) -> None:
    product = ProductContext(tmp_path / "t.fits", "MASTER_FIBER_FLAT", "FLAT", fits.Header(), None, ())
    assert GiraffeFlat().measure(product) == [] and GiraffeFlat().plot(product, tmp_path / "t.png", []) is None
