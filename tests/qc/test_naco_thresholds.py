"""NACO's shipped thresholds, loaded as a workspace loads them, and the choice of a science image's zero
point among the calibration memory's standard stars (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfos.errors import ConfigError
from dfos.headers.header import Header
from dfos.qc.naco import choose_zero_point
from dfos.qc.procedures import CalibrationProduct, procedures_for
from dfos.qc.scoring import Limits, find_threshold, limits, load_thresholds, score
from dfos.steps.score import threshold_file, thresholds
from dfos.workspace import Workspace, init_workspace, open_workspace

SHIPPED = Path(__file__).resolve().parents[2] / "src" / "dfos" / "qc" / "thresholds" / "NACO.toml"
KS, H = "S27 Ks HighDynamic", "S27 H HighDynamic"


@pytest.fixture
def naco_workspace(tmp_path: Path) -> Workspace:
    ws, _ = init_workspace(tmp_path / "ws", env={}, instrument="NACO")
    return ws


def _limits(param: str, pro_catg: str, setup: str) -> Limits | None:
    rule = find_threshold(load_thresholds(SHIPPED), param, pro_catg, setup)
    return limits(rule) if rule else None


def test_a_naco_workspace_scores_with_the_shipped_file(naco_workspace: Workspace) -> None:
    assert not threshold_file(naco_workspace).exists()
    assert thresholds(naco_workspace) == load_thresholds(SHIPPED) != []


@pytest.mark.parametrize(("param", "pro_catg", "setup", "low", "high"), [
    ("QC RON1", "NACO_IMG_DARK_AVG", KS, 0.5, 8.0),
    ("QC DARKMED", "NACO_IMG_DARK_AVG", KS, -100.0, 500.0),
    ("QC NBHOTPIX", "NACO_IMG_DARK_AVG", KS, None, 5000.0),
    ("QC FLAT RMS", "MASTER_IMG_FLAT", H, None, 0.1),
    ("QC ZPOINT", "ZPOINT_TABLE", KS, 22.0, 24.5),
    ("QC ZPOINT", "ZPOINT_TABLE", H, 22.4, 24.9),
    ("QC ZPOINTRMS", "ZPOINT_TABLE", H, None, 0.1),
    ("QC STREHL", "ZPOINT_TABLE", KS, 0.02, 1.0),
    ("QC FWHM ARCSEC", "COADDED_IMG", H, 0.035, 0.35),
    ("QC FWHM PIX", "COADDED_IMG", KS, 1.3, 12.9),
    ("QC BACKGD", "COADDED_IMG", KS, 0.0, 8000.0),
    ("QC NSOURCES", "COADDED_IMG", H, 1.0, None),
    ("QC ZPOINT", "COADDED_IMG", H, 22.4, 24.9),
    ("QC STREHL", "COADDED_IMG", KS, 0.02, 1.0),
    ("QC STREHL STD", "COADDED_IMG", H, 0.02, 1.0),
])
def test_each_naco_parameter_has_its_limits(param: str, pro_catg: str, setup: str, low: float | None,
                                            high: float | None) -> None:
    assert _limits(param, pro_catg, setup) == Limits(low, high, "fixed")


def test_what_the_recipes_do_not_scale_is_left_to_statistics_or_grey() -> None:
    rule = find_threshold(load_thresholds(SHIPPED), "QC DARKMED", "NACO_IMG_DARK_AVG", "S27 Ks Uncorr")
    assert rule is not None and rule.method == "stat"  # another detector mode: its own history
    assert _limits("QC FWHM PIX", "COADDED_IMG", "S13 Ks HighDynamic") is None  # another camera: FWHM ARCSEC scores
    assert _limits("QC RON1", "NACO_IMG_DARK_HOT", KS) is None  # the pixel maps repeat the master's QC
    assert _limits("QC NSOURCES SOURCE", "COADDED_IMG", KS) is None


def test_the_synthetic_truth_scores_green_and_a_lost_ao_correction_red() -> None:
    # synthetic night: FWHM 5.5 to 7 px at 0.02719"/px, sky 1500 to 3000 ADU plus a 50 ADU dark
    assert score(7.08 * 0.02719, _limits("QC FWHM ARCSEC", "COADDED_IMG", KS)) == 0
    assert score(3049.0, _limits("QC BACKGD", "COADDED_IMG", KS)) == 0
    assert score(23.0, _limits("QC ZPOINT", "COADDED_IMG", KS)) == 0
    assert score(20.0 * 0.02719, _limits("QC FWHM ARCSEC", "COADDED_IMG", KS)) == 1
    assert score(0.01, _limits("QC STREHL", "COADDED_IMG", KS)) == 1
    assert score(0.0, _limits("QC NSOURCES", "COADDED_IMG", KS)) == 1


def test_an_edited_threshold_file_replaces_the_shipped_one(naco_workspace: Workspace) -> None:
    own = threshold_file(naco_workspace)
    own.write_text(SHIPPED.read_text(encoding="utf-8").replace("high = 0.35", "high = 0.1"), encoding="utf-8")
    ws = open_workspace(naco_workspace.root, env={})
    rule = find_threshold(thresholds(ws), "QC FWHM ARCSEC", "COADDED_IMG", KS)
    assert rule is not None and rule.high == 0.1
    own.write_text(SHIPPED.read_text(encoding="utf-8") + "\n[[threshold]]\nparam = \"QC X\"\nlow = 2\nhigh = 1\n",
                   encoding="utf-8")
    with pytest.raises(ConfigError, match=r"thresholds_NACO.toml: threshold \d+ \(QC X\): low 2 is above high 1"):
        thresholds(ws)


def test_the_naco_procedures_are_known_without_package_metadata() -> None:
    assert [p.name for p in procedures_for("NACO", "COADDED_IMG", "IM_JITTER_OBJ")] == ["naco_coadd"]
    assert [p.name for p in procedures_for("NACO", "ZPOINT_TABLE", "CAL_STD_JITTER")] == ["naco_zpoint"]
    assert [p.name for p in procedures_for("NACO", "MASTER_IMG_FLAT", "CAL_FLAT_TW")] == ["naco_master"]
    assert procedures_for("NACO", "NACO_IMG_DARK_HOT", "CAL_DARK") == []


def _zpoint(band: str, date: str, mjd: float, memory: str = "VCAL", camera: str = "S27", zp: float | None = 23.0,
            name: str = "") -> CalibrationProduct:
    cards: dict[str, str | float] = {"PRO.CATG": "ZPOINT_TABLE", "INS.OPTI6.NAME": band, "INS.OPTI7.NAME": camera,
                                     "MJD-OBS": mjd}
    if zp is not None:
        cards["QC.ZPOINT"] = zp
    return CalibrationProduct("ZPOINT_TABLE", name or f"{memory}/{date}/{band}/{mjd}", memory, date, "", mjd,
                              Header(cards))


def test_the_zero_point_of_the_same_filter_camera_and_night_is_chosen() -> None:
    tonight_ks = _zpoint("Ks", "2013-02-12", 56336.01)
    candidates = [_zpoint("H", "2013-02-12", 56336.06), _zpoint("Ks", "2013-02-12", 56336.01, camera="S13"),
                  _zpoint("Ks", "2013-02-11", 56335.06), tonight_ks, _zpoint("Ks", "2013-02-12", 56336.02, zp=None)]
    assert choose_zero_point(candidates, "Ks", "S27", 56336.06, "2013-02-12") is tonight_ks
    # none of tonight: the nearest night's
    assert choose_zero_point(candidates[2:3], "Ks", "S27", 56336.06, "2013-02-12") is candidates[2]
    # of two equally near, the certified one
    certified = _zpoint("Ks", "2013-02-12", 56336.01, memory="MCAL", name="z")
    assert choose_zero_point([tonight_ks, certified], "Ks", "S27", 56336.06, "2013-02-12") is certified
    assert choose_zero_point(candidates, "J", "S27", 56336.06, "2013-02-12") is None
    assert choose_zero_point([], "Ks", "S27", 56336.06, "2013-02-12") is None


def test_each_health_trend_is_declared_once() -> None:
    # the health check draws one trend per parameter and PRO.CATG (a series per setup): a second entry
    # of the same pair would be dropped with its label
    health = [(t.param, t.pro_catg) for t in load_thresholds(SHIPPED) if t.health]
    assert len(health) == len(set(health)) == 6
    assert ("QC ZPOINT", "ZPOINT_TABLE") in health and ("QC RON1", "NACO_IMG_DARK_AVG") in health
