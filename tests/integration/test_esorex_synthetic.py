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


def esorex(recipe: str, sof_lines: list[str], workdir: Path, *params: str) -> list[dict[str, str]]:
    """Run one recipe in its own directory (argument list, no shell); return its product list."""
    binary = shutil.which("esorex")
    assert binary, "esorex is not installed: run 'make test' (it installs esorex cpl-plugin-uves cpl-plugin-giraf)"
    workdir.mkdir(parents=True)
    (workdir / "in.sof").write_text("".join(line + "\n" for line in sof_lines))
    result = subprocess.run(
        [binary, "--output-dir=.", "--log-dir=.", "--products-sof=products.json", recipe, *params, "in.sof"],
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
        # the master keeps the bias level (no overscan subtraction): PRO DATAMED is what was injected
        assert header["HIERARCH ESO PRO DATAMED"] == pytest.approx(blue_chip.bias_adu, abs=0.05)
        # the recipe's read-noise estimate on the raw frames, in ADU
        assert header["HIERARCH ESO QC OUT1 RON RAW"] == pytest.approx(blue_chip.ron_e * blue_chip.gain, rel=0.05)


def test_uves_master_dark_measures_the_injected_dark_current(
    uves_small_archive: Path, tmp_path: Path, blue_chip: Chip
) -> None:
    esorex("uves_cal_mbias", [f"{p} BIAS_BLUE" for p in _frames(uves_small_archive, BIASES)], tmp_path / "mbias")
    master = tmp_path / "mbias" / "masterbias_blue.fits"
    sof = [f"{p} DARK_BLUE" for p in _frames(uves_small_archive, DARKS)] + [f"{master} MASTER_BIAS_BLUE"]
    # below 600 px the default QC grid does not fit: ask for 2 x 2 boxes of 50 px
    grid = ["--qc_dark.reg.num_x=2", "--qc_dark.reg.num_y=2", "--qc_dark.reg.box_sx=50",
            "--qc_dark.reg.box_sy=50", "--qc_dark.reg.border_x=25", "--qc_dark.reg.border_y=25"]
    products = esorex("uves_cal_mdark", sof, tmp_path / "mdark", *grid)
    assert products[0]["category"] == "MASTER_DARK_BLUE"
    header = fits.getheader(tmp_path / "mdark" / products[0]["name"])
    injected_adu = blue_chip.dark_e_per_s * 3600.0 * blue_chip.gain  # per 3600 s exposure
    assert header["HIERARCH ESO QC REG AVG AVG"] == pytest.approx(injected_adu, rel=0.06)


def test_uves_order_definition_finds_every_injected_order(
    uves_small_archive: Path, tmp_path: Path, blue_chip: Chip
) -> None:
    from dfos.synth.render import order_centres

    esorex("uves_cal_mbias", [f"{p} BIAS_BLUE" for p in _frames(uves_small_archive, BIASES)], tmp_path / "mbias")
    orderdef = _frames(uves_small_archive, ["21:50:00.500"])[0]
    products = esorex("uves_cal_orderpos", [f"{orderdef} ORDER_FLAT_BLUE",
                                            f"{tmp_path / 'mbias' / 'masterbias_blue.fits'} MASTER_BIAS_BLUE"],
                      tmp_path / "orderpos")
    assert products[0]["category"] == "ORDER_TABLE_BLUE"
    header = fits.getheader(tmp_path / "orderpos" / products[0]["name"])
    assert header["HIERARCH ESO QC ORD NDET"] == len(order_centres(blue_chip.nx))


GIRAFFE_NIGHT = "2013-02-12"


@pytest.fixture(scope="module")
def giraffe_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from datetime import date

    from dfos.steps.demo_data import generate_night
    from dfos.workspace import init_workspace

    ws, _ = init_workspace(tmp_path_factory.mktemp("giraffe") / "ws", env={}, instrument="GIRAFFE")
    generate_night(ws, date(2013, 2, 12), small=True, seed=11)
    return ws.archive_dir / GIRAFFE_NIGHT


def test_giraffe_master_bias_and_dark(giraffe_archive: Path, tmp_path: Path) -> None:
    from dfos.instruments.giraffe import Giraffe

    chip = Giraffe().arms(small=True)["CCD"].chips[0]
    frames = sorted(giraffe_archive.glob("GIRAF.*.fits"))
    esorex("gimasterbias", [f"{p} BIAS" for p in frames[:5]], tmp_path / "bias")
    bias = fits.getheader(tmp_path / "bias" / "master_bias.fits")
    assert bias["HIERARCH ESO QC BIAS MASTER MEDIAN"] == pytest.approx(chip.bias_adu, abs=0.05)
    assert bias["HIERARCH ESO QC OUT1 RON RAW"] == pytest.approx(chip.ron_e * chip.gain, rel=0.03)
    sof = [f"{p} DARK" for p in frames[5:]] + [f"{tmp_path / 'bias' / 'master_bias.fits'} MASTER_BIAS"]
    esorex("gimasterdark", sof, tmp_path / "dark", f"--bsremove-areas=5:40:0:{chip.naxis2 - 1}")
    dark = fits.getheader(tmp_path / "dark" / "master_dark.fits")
    # ADU per second; QC DARK CURRENT needs a full-size frame, PRO DARK VALUE works at every size
    assert dark["HIERARCH ESO PRO DARK VALUE"] == pytest.approx(chip.dark_e_per_s * chip.gain, rel=0.03)
