"""Real ESO recipes through esorex accept the synthetic frames and measure what was injected."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from dfos.instruments.uves import Uves
from dfos.synth.plan import Chip

pytestmark = pytest.mark.esorex


def esorex(recipe: str, sof_lines: list[str], workdir: Path) -> list[dict[str, str]]:
    """Run one recipe in its own directory (argument list, no shell); return its product list."""
    binary = shutil.which("esorex")
    assert binary, "esorex is not installed: run 'make test' (it installs esorex cpl-plugin-uves cpl-plugin-giraf)"
    workdir.mkdir(parents=True)
    (workdir / "in.sof").write_text("".join(line + "\n" for line in sof_lines))
    result = subprocess.run(
        [binary, "--output-dir=.", "--log-dir=.", "--products-sof=products.json", recipe, "in.sof"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, (workdir / "esorex.log").read_text()[-3000:]
    products: list[dict[str, str]] = json.loads((workdir / "products.json").read_text())
    return products


def _frames(archive: Path, stamps: list[str]) -> list[Path]:
    return [next(archive.rglob(f"UVES.2013-02-12T{stamp}.fits")) for stamp in stamps]


BIASES = ["18:05:00.500", "18:06:08.500", "18:07:16.500", "18:08:24.500", "18:09:32.500"]
DARKS = ["18:40:00.500", "19:41:08.500", "20:42:16.500"]


@pytest.fixture(scope="module")
def blue_chip() -> Chip:
    return Uves().arms(small=True)["BLUE"].chips[0]


def test_uves_master_bias_level_is_the_injected_one(
    uves_small_archive: Path, tmp_path: Path, blue_chip: Chip
) -> None:
    products = esorex("uves_cal_mbias", [f"{p} BIAS_BLUE" for p in _frames(uves_small_archive, BIASES)],
                      tmp_path / "mbias")
    assert products == [{"name": "masterbias_blue.fits", "category": "MASTER_BIAS_BLUE"}]
    with fits.open(tmp_path / "mbias" / "masterbias_blue.fits") as hdul:
        level = float(np.median(hdul[0].data))
        header = hdul[0].header
        assert header["HIERARCH ESO PRO CATG"] == "MASTER_BIAS_BLUE"
        assert level == pytest.approx(blue_chip.bias_adu, abs=0.5)
        # the recipe's read-noise estimate on the raw frames, in ADU
        assert header["HIERARCH ESO QC OUT1 RON RAW"] == pytest.approx(blue_chip.ron_e * blue_chip.gain, rel=0.05)


def test_uves_master_dark_measures_the_injected_dark_current(
    uves_small_archive: Path, tmp_path: Path, blue_chip: Chip
) -> None:
    esorex("uves_cal_mbias", [f"{p} BIAS_BLUE" for p in _frames(uves_small_archive, BIASES)], tmp_path / "mbias")
    master = tmp_path / "mbias" / "masterbias_blue.fits"
    sof = [f"{p} DARK_BLUE" for p in _frames(uves_small_archive, DARKS)] + [f"{master} MASTER_BIAS_BLUE"]
    products = esorex("uves_cal_mdark", sof, tmp_path / "mdark")
    assert products[0]["category"] == "MASTER_DARK_BLUE"
    header = fits.getheader(tmp_path / "mdark" / products[0]["name"])
    injected_adu = blue_chip.dark_e_per_s * 3600.0 * blue_chip.gain
    assert header["HIERARCH ESO QC REG MED MED"] == pytest.approx(injected_adu, rel=0.1)
