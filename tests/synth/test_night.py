"""Synthetic nights: every frame carries the keywords of its intended category, and known pixels."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from dfos.headers.io import read_header
from dfos.instruments.giraffe import Giraffe
from dfos.instruments.uves import Uves
from dfos.naming import RawName
from dfos.steps.demo_data import generate_night, plan_night
from dfos.workspace import Workspace

NIGHT = date(2013, 2, 12)

# What each intended category must look like, written independently of the plugins.
UVES_BLUE = {"DET.CHIPS": 1, "DET.OUTPUTS": 1, "INS.PATH": "BLUE", "INS.GRAT1.WLEN": 390.0, "INS.MODE": "DICHR#1",
             "DET.READ.SPEED": "1pt/225kHz/lg", "INS.SLIT1.NAME": "FREE", "DET.CHIP1.ID": "CCD-44b"}
UVES_RED = {"DET.CHIPS": 2, "DET.OUTPUTS": 2, "INS.PATH": "RED", "INS.GRAT2.WLEN": 564.0,
            "DET.READ.SPEED": "2pts/225kHz/lg", "DET.CHIP1.ID": "CCD-20", "DET.CHIP2.ID": "CCD-44"}
GIRAFFE = {"DET.CHIPS": 1, "DET.CHIP1.ID": "CCD-60", "INS.EXP.MODE": "H525.8", "INS.SLIT.NAME": "Medusa1",
           "DET.READ.CLOCK": "225kHz,1port,normal", "DET.READ.MODE": "normal"}
EXPECTED = {
    "UVES": {
        # category: (count, (DPR.CATG, DPR.TYPE, DPR.TECH), TPL.ID, keywords, EXPTIME)
        "BIAS_BLUE": (5, ("CALIB", "BIAS", "IMAGE"), "UVES_blue_cal_bias", UVES_BLUE, 0.0),
        "DARK_BLUE": (3, ("CALIB", "DARK", "IMAGE"), "UVES_blue_cal_dark", UVES_BLUE, 3600.0),
        "ORDER_FLAT_BLUE": (1, ("CALIB", "LAMP,ORDERDEF", "ECHELLE"), "UVES_blue_cal_orderdef", UVES_BLUE, 5.0),
        "FLAT_BLUE": (5, ("CALIB", "LAMP,FLAT", "ECHELLE"), "UVES_blue_cal_flatfree", UVES_BLUE, 10.0),
        "BIAS_RED": (5, ("CALIB", "BIAS", "IMAGE"), "UVES_red_cal_bias", UVES_RED, 0.0),
        "ARC_LAMP_BLUE": (2, ("CALIB", "LAMP,WAVE", "ECHELLE"), "UVES_blue_cal_wave", UVES_BLUE, 15.0),
        "SCIENCE_BLUE": (2, ("SCIENCE", "OBJECT", "ECHELLE"), "UVES_blue_obs_exp", UVES_BLUE, 1800.0),
    },
    "GIRAFFE": {
        "BIAS": (5, ("CALIB", "BIAS", "IMAGE"), "GIRAF_gen_cal_bias", GIRAFFE, 0.0),
        "DARK": (3, ("CALIB", "DARK", "IMAGE"), "GIRAF_gen_cal_dark", GIRAFFE, 3600.0),
    },
}


@pytest.mark.parametrize("instrument", ["UVES", "GIRAFFE"])
def test_night_plan_has_the_intended_frames(instrument: str) -> None:
    frames = plan_night(instrument, NIGHT)
    counts = Counter(f.template.category for f in frames)
    assert counts == {cat: spec[0] for cat, spec in EXPECTED[instrument].items()}
    assert [f.moment for f in frames] == sorted(f.moment for f in frames)
    assert all(RawName.parse(f.name.render()) == f.name for f in frames)


def _check_keywords(path: Path, category: str, spec: tuple[object, ...], instrument: str) -> None:
    _, dpr, tpl_id, keywords, exptime = spec
    h = read_header(path)
    assert (h["DPR.CATG"], h["DPR.TYPE"], h["DPR.TECH"]) == dpr, category
    assert h["TPL.ID"] == tpl_id
    assert h["INSTRUME"] == instrument
    assert h["EXPTIME"] == exptime
    assert h["ARCFILE"] == path.name
    assert h["DATE-OBS"] == path.name.split(".", 1)[1].removesuffix(".fits")
    assert isinstance(h["MJD-OBS"], float) and h["MJD-OBS"] > 53096  # UVES "new format" epoch
    for key, value in keywords.items():  # type: ignore[attr-defined]
        assert h[key] == value, (category, key)
    for key in ("DET.WIN1.BINX", "DET.WIN1.BINY", "DET.READ.SPEED", "OBS.ID", "OBS.PROG.ID", "ORIGFILE"):
        assert key in h


@pytest.mark.parametrize("instrument", ["UVES", "GIRAFFE"])
def test_every_frame_has_the_keywords_of_its_category(workspace: Workspace, instrument: str) -> None:
    night = generate_night(workspace, NIGHT, instrument=instrument, small=True, seed=3)
    by_template: dict[str, list[fits.Header]] = {}
    for frame in night.frames:
        path = workspace.archive_dir / "2013-02-12" / frame.name.render()
        category = frame.template.category
        _check_keywords(path, category, EXPECTED[instrument][category], instrument)
        by_template.setdefault(category, []).append(fits.getheader(path))
    for category, headers in by_template.items():
        n = EXPECTED[instrument][category][0]
        assert {h["HIERARCH ESO TPL START"] for h in headers} == {headers[0]["HIERARCH ESO TPL START"]}
        assert [h["HIERARCH ESO TPL EXPNO"] for h in headers] == list(range(1, n + 1))
        assert {h["HIERARCH ESO TPL NEXP"] for h in headers} == {n}


def test_storage_is_eso_raw_int16_with_float_scaling(uves_small_archive: Path) -> None:
    path = next(uves_small_archive.rglob("UVES.2013-02-12T18:05:00.500.fits"))
    raw = path.read_bytes()[:2880].decode("ascii")  # the first header block holds BSCALE/BZERO
    cards = [raw[i:i + 80] for i in range(0, len(raw), 80)]
    assert any(c.startswith("BSCALE  =") and c[10:30].strip() == "1.0" for c in cards)
    assert any(c.startswith("BZERO   =") and c[10:30].strip() == "32768.0" for c in cards)
    with fits.open(path, do_not_scale_image_data=True) as hdul:
        assert hdul[0].header["BITPIX"] == 16
        assert hdul[0].data.dtype.kind == "i"


def test_red_frames_have_two_chip_extensions(uves_small_archive: Path) -> None:
    path = next(uves_small_archive.rglob("UVES.2013-02-12T18:20:00.500.fits"))
    with fits.open(path) as hdul:
        assert len(hdul) == 3 and hdul[0].data is None
        assert [h.header["EXTNAME"] for h in hdul[1:]] == ["REDU", "REDL"]
        assert [h.header["HIERARCH ESO DET CHIP1 ID"] for h in hdul[1:]] == ["CCD-20", "CCD-44"]


def test_pixels_carry_the_injected_signals(uves_small_archive: Path) -> None:
    chip = Uves().arms(small=True)["BLUE"].chips[0]
    bias = fits.getdata(next(uves_small_archive.rglob("UVES.2013-02-12T18:05:00.500.fits"))).astype(float)
    overscan = bias[:, -chip.ovscx :]
    assert abs(np.mean(bias) - chip.bias_adu) < 0.05
    assert np.std(overscan) == pytest.approx(chip.ron_e * chip.gain, rel=0.03)
    dark = fits.getdata(next(uves_small_archive.rglob("UVES.2013-02-12T18:40:00.500.fits"))).astype(float)
    illuminated = dark[:, chip.prscx : chip.prscx + chip.nx]
    injected = chip.dark_e_per_s * 3600.0 * chip.gain
    assert np.mean(illuminated) - chip.bias_adu == pytest.approx(injected, rel=0.03)
    flat = fits.getdata(next(uves_small_archive.rglob("UVES.2013-02-12T21:52:00.500.fits"))).astype(float)
    assert flat.max() > chip.bias_adu + 5000  # lamp orders are bright


def test_same_seed_same_pixels(tmp_path: Path) -> None:
    from dfos.synth.render import render_frame

    plugin = Giraffe()
    frame = plan_night("GIRAFFE", NIGHT)[0]
    arm = plugin.arms(small=True)["CCD"]
    a = render_frame(frame, arm, "GIRAFFE", plugin.telescope, seed=5)[0].data
    b = render_frame(frame, arm, "GIRAFFE", plugin.telescope, seed=5)[0].data
    c = render_frame(frame, arm, "GIRAFFE", plugin.telescope, seed=6)[0].data
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_full_and_small_sizes() -> None:
    blue_full = Uves().arms(small=False)["BLUE"].chips[0]
    assert (blue_full.naxis1, blue_full.naxis2) == (2148, 3000)
    red_full = Uves().arms(small=False)["RED"].chips
    assert [(c.naxis1, c.naxis2) for c in red_full] == [(2148, 4096)] * 2
    giraffe_small = Giraffe().arms(small=True)["CCD"].chips[0]
    assert giraffe_small.naxis1 >= 1124 and giraffe_small.naxis2 >= 2098  # gimasterbias' fixed QC window


def test_existing_frames_are_kept(workspace: Workspace) -> None:
    first = generate_night(workspace, NIGHT, instrument="GIRAFFE", small=True)
    target = workspace.archive_dir / "2013-02-12" / first.frames[0].name.render()
    stamp = target.stat().st_mtime_ns
    again = generate_night(workspace, NIGHT, instrument="GIRAFFE", small=True)
    assert again.written == 0 and target.stat().st_mtime_ns == stamp
    assert not list(workspace.archive_dir.rglob("*.part"))
