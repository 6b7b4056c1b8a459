"""ESO's own Gasgano rule files on synthetic nights of NACO, HAWK-I, MUSE, VIMOS, VISIR and AMBER.

For every pipeline, ``dfos oca classify`` and ``dfos oca organise`` (in-process, as in
tests/cli/test_oca.py) run ESO's installed ``.oca`` file over the headers of
:func:`dfos.synth.eso_headers.night_headers`.  What each frame must get is written here from the
rule text: a table from the frame's DPR keywords (and TPL.ID where a rule reads it) to the DO.CATG
of the last rule that is true for it, and a table from DO.CATG to the ``select execute`` statements
that take it (action, grouping).  The expected groups are then built from the frames with those
tables alone.  The association engine is checked with a calibration memory of
:func:`dfos.synth.eso_headers.calibration_headers` products: each instrument's ABs take the
calibrations whose set-up keywords the rules compare.
"""

from __future__ import annotations

import glob
import json
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from dfos.association.classify import Classifier
from dfos.association.engine import AssociationResult, associate
from dfos.association.frames import Frame, mid_exposure
from dfos.association.match import Calib
from dfos.cli.main import main
from dfos.naming import RawName
from dfos.oca.evaluate import compile_condition
from dfos.oca.io import load_rules
from dfos.oca.syntax import RuleSet
from dfos.synth.eso_headers import (
    INSTRUMENTS,
    calibration_headers,
    many_headers,
    night_headers,
    write_header_night,
    write_headers,
)

DAY = date(2024, 7, 12)
RULE_FILES = {
    "NACO": "naco-*/gasgano/config/naco.oca",
    "HAWKI": "hawki-*/gasgano/config/hawki.oca",
    "MUSE": "muse-*/gasgano/config/muse.oca",
    "VIMOS": "vimos-*/gasgano/config/vimos.oca",
    "VISIR": "visir-*/gasgano/config/visir.oca",
    "AMBER": "amber-*/gasgano/config/amber.oca",
}


def rule_file(instrument: str) -> str:
    found = glob.glob(f"/usr/share/cpl-plugins/{RULE_FILES[instrument]}")
    assert found, f"ESO's {instrument} rule file is not installed"
    return found[0]


Header = Mapping[str, Any]
#: One ``select execute`` statement as the test expects it: action, grouping (TPL, FRAME or KEYS), group-by keys.
Statement = tuple[str, str, tuple[str, ...]]


@dataclass(frozen=True)
class Expect:
    """What an instrument's rule file says, written out by hand from its text."""

    catg: dict[tuple[str, str, str], str | None]
    """(DPR.CATG, DPR.TYPE, DPR.TECH) -> the DO.CATG of the last true classification rule (None: no rule)."""
    statements: dict[str, list[Statement]]
    """DO.CATG -> the organisation statements that select it."""
    special: Callable[[Header], str | None] | None = None
    """A rule that reads more than the DPR keywords (MUSE's TPL.ID regexp), tried first."""
    also: dict[str, Any] = field(default_factory=dict)

    def catg_of(self, header: Header) -> str | None:
        if self.special is not None:
            found = self.special(header)
            if found is not None:
                return found
        return self.catg[(header["DPR.CATG"], header["DPR.TYPE"], header["DPR.TECH"])]


TPL: tuple[str, ...] = ()

# naco.oca: every statement is "SIG.TEMPLATE == 1 and LF.DO.CATG == X".
NACO = Expect(
    catg={
        ("CALIB", "DARK", "IMAGE"): "CAL_DARK",
        ("CALIB", "FLAT,LAMP", "IMAGE"): "CAL_FLAT_LAMP",
        ("CALIB", "FLAT,LAMP,DETCHECK", "IMAGE"): "DETMON_LAMP_ON",  # CAL_FLAT_LAMP is true too, earlier
        ("CALIB", "DARK,DETCHECK", "IMAGE"): "DETMON_LAMP_OFF",  # CAL_DARK is true too, earlier
        ("CALIB", "WAVE,LAMP", "SPECTRUM"): "CAL_ARC_SPEC",
        ("CALIB", "FLAT,LAMP", "SPECTRUM"): "CAL_FLAT_SPEC",
        ("CALIB", "FLAT,SKY", "IMAGE"): "CAL_FLAT_TW",
        ("CALIB", "STD", "IMAGE,JITTER"): "CAL_STD_JITTER",
        ("ACQUISITION", "OBJECT", "IMAGE"): None,  # ACQ_IMAGE wants DPR.TYPE like "%SKY%"
        ("SCIENCE", "OBJECT", "IMAGE,JITTER"): "IM_JITTER_OBJ",
        ("SCIENCE", "OBJECT", "SPECTRUM,NODDING"): "SPEC_NODDING",
    },
    statements={
        "CAL_DARK": [("naco_img_dark", "TPL", TPL)],
        "CAL_FLAT_LAMP": [("naco_img_lampflat", "TPL", TPL)],
        "DETMON_LAMP_ON": [("detmon_ir_lg", "TPL", TPL)],
        "DETMON_LAMP_OFF": [("detmon_ir_lg", "TPL", TPL)],
        "CAL_ARC_SPEC": [("naco_spc_wavecal", "TPL", TPL)],
        "CAL_FLAT_SPEC": [("naco_spc_lampflat", "TPL", TPL)],
        "CAL_FLAT_TW": [("naco_img_twflat", "TPL", TPL)],
        "CAL_STD_JITTER": [("naco_img_zpoint", "TPL", TPL)],
        "IM_JITTER_OBJ": [("naco_img_jitter", "TPL", TPL)],
        "SPEC_NODDING": [("naco_spc_combine", "TPL", TPL)],
    },
)

_HAWKI_SETUP = ("DET.NCORRS.NAME", "DET.DIT", "DET.NDIT", "INS.FILT1.NAME", "INS.FILT2.NAME")
HAWKI = Expect(
    catg={
        ("CALIB", "DARK", "IMAGE"): "DARK",
        ("CALIB", "LINEARITY,FLAT,DETCHAR", "IMAGE"): "DETMON_LAMP_ON",  # after FLAT_TWILIGHT
        ("CALIB", "LINEARITY,DARK,DETCHAR", "IMAGE"): "DETMON_LAMP_OFF",  # after DARK
        ("CALIB", "FLAT,SKY", "IMAGE"): "FLAT_TWILIGHT",
        ("CALIB", "STD", "IMAGE,JITTER"): "STD",
        ("ACQUISITION", "OBJECT", "IMAGE"): "ACQ_IMAGE",
        ("SCIENCE", "OBJECT", "IMAGE"): "OBJECT",  # after JITTER_OBS
        ("SCIENCE", "SKY", "IMAGE"): "SKY",  # after JITTER_SKY
    },
    statements={
        "DARK": [("DARKS", "TPL", ("DET.NCORRS.NAME", "DET.DIT", "DET.NDIT"))],
        "FLAT_TWILIGHT": [("SKY_FLATS", "TPL", _HAWKI_SETUP)],
        "STD": [("STANDARD_STARS", "TPL", _HAWKI_SETUP)],
        "SKY": [("SCIENCE_FRAMES", "KEYS", (*_HAWKI_SETUP, "OBS.START"))],
        "OBJECT": [("SCIENCE_FRAMES", "KEYS", (*_HAWKI_SETUP, "OBS.START"))],
        "DETMON_LAMP_ON": [("detmon_ir_lg", "TPL", TPL)],
        "DETMON_LAMP_OFF": [("detmon_ir_lg", "TPL", TPL)],
    },
)


def _muse_flat(header: Header) -> str | None:
    """muse.oca's lamp-flat and illumination-flat rules also read TPL.ID with a regexp."""
    dpr = (header["DPR.CATG"], header["DPR.TYPE"], header["DPR.TECH"])
    tpl = str(header.get("TPL.ID", ""))
    if dpr == ("CALIB", "FLAT,LAMP,ILLUM", "IFU") and re.search("MUSE_[wn]fm_cal_illum", tpl):
        return "ILLUMFLAT"
    if dpr[0] == "CALIB" and dpr[2] == "IFU" and "FLAT" in dpr[1] and "LAMP" in dpr[1]:
        return "FLAT" if re.search("MUSE_[wn]fm_cal_specflat", tpl) else "NO_FLAT"
    return None


MUSE = Expect(
    catg={
        ("CALIB", "BIAS", "IFU"): "BIAS",
        ("CALIB", "DARK", "IFU"): "DARK",
        ("CALIB", "WAVE", "IFU"): "ARC",
        ("CALIB", "FLAT,SKY", "IFU"): "SKYFLAT",
        ("CALIB", "STD", "IFU"): "STD",
        ("ACQUISITION", "OBJECT", "IMAGE"): "ACQUISITION",
        ("SCIENCE", "OBJECT", "IFU"): "OBJECT",
        ("SCIENCE", "SKY", "IFU"): "SKY",
    },
    statements={
        "ILLUMFLAT": [("muse_illum", "FRAME", TPL)],
        "BIAS": [("muse_bias", "TPL", TPL)],
        "DARK": [("muse_dark", "TPL", TPL)],
        "FLAT": [("muse_flat", "TPL", TPL)],
        "ARC": [("muse_wave", "TPL", TPL)],
        "SKYFLAT": [("muse_twilight", "TPL", TPL)],
        "OBJECT": [("muse_scibasic", "FRAME", TPL)],
        "STD": [("muse_scibasic", "FRAME", TPL)],
    },
    special=_muse_flat,
    # the rules that give INS.OPTI1.FILTER = INS.OPTI1.NAME like "Blue%"
    also={"filtered": {"FLAT", "ILLUMFLAT", "SKYFLAT", "MASK", "ARC_LSF", "ARC", "SKY", "STD", "ASTROMETRY",
                       "OBJECT"}},
)

VIMOS = Expect(
    catg={
        ("CALIB", "BIAS", "IMAGE"): "BIAS",
        ("CALIB", "DARK", "IMAGE"): "DARK",
        ("CALIB", "FLAT,LAMP", "MOS"): "MOS_SCREEN_FLAT",
        ("CALIB", "WAVE,LAMP", "MOS"): "MOS_ARC_SPECTRUM",
        ("CALIB", "FLAT,SKY", "IMAGE"): "IMG_SKY_FLAT",
        ("CALIB", "STD", "IMAGE"): "IMG_STANDARD",
        ("SCIENCE", "OBJECT", "IMAGE"): "IMG_SCIENCE",
        ("SCIENCE", "OBJECT", "MOS"): "MOS_SCIENCE",
    },
    statements={
        "IMG_SCIENCE": [("vmImObsStare", "FRAME", TPL), ("vmImObsJitter", "TPL", TPL)],
        "IMG_STANDARD": [("vmImStandard", "FRAME", TPL)],
        "MOS_SCIENCE": [("vmmosscience", "FRAME", TPL), ("vmmosscience", "TPL", TPL)],
        "MOS_SCREEN_FLAT": [("vmmoscalib", "TPL", TPL)],
        "MOS_ARC_SPECTRUM": [("vmmoscalib", "TPL", TPL)],
        "IMG_SKY_FLAT": [("vmImFlatSky", "TPL", TPL)],
        "BIAS": [("vmBias", "TPL", TPL)],
        "DARK": [("vmDark", "TPL", TPL)],
    },
)

VISIR = Expect(
    catg={
        ("CALIB", "DARK", "IMAGE"): "IM_CAL_DARK",
        ("CALIB", "FLAT", "IMAGE,DIRECT"): "IM_CAL_FLAT",
        ("CALIB", "STD", "IMAGE,CHOPNOD,JITTER"): "IM_CAL_PHOT",
        ("CALIB", "STD", "IMAGE,BURST,CHOPNOD"): "IM_CAL_PHOT_BURST",  # after IM_CAL_PHOT
        ("ACQUISITION", "OBJECT", "IMAGE"): "ACQ_OBS_CHO_NOD_JIT",  # INS.MODE == "IMG"; after ACQUISITION
        ("SCIENCE", "OBJECT", "IMAGE,CHOPNOD,JITTER"): "IM_OBS_CHO_NOD_JIT",
        ("CALIB", "STD", "SPECTRUM,CHOPNOD"): "SPEC_CAL_PHOT",
        ("SCIENCE", "OBJECT", "SPECTRUM,CHOPNOD,JITTER"): "SPEC_OBS_LMR",
    },
    statements={  # the spectroscopic statements also need MJD-OBS >= 56100.0: every frame of 2024 has it
        "IM_CAL_DARK": [("visir_img_dark", "TPL", TPL)],
        "IM_CAL_FLAT": [("visir_img_ff", "TPL", TPL)],
        "IM_CAL_PHOT": [("visir_img_reduce_phot", "TPL", TPL)],
        "IM_CAL_PHOT_BURST": [("visir_img_reduce_phot", "TPL", TPL)],
        "ACQ_OBS_CHO_NOD_JIT": [("visir_img_reduce_phot", "TPL", TPL)],
        "IM_OBS_CHO_NOD_JIT": [("visir_img_reduce", "TPL", TPL)],
        "SPEC_CAL_PHOT": [("visir_spc_reduce_phot", "TPL", TPL)],
        "SPEC_OBS_LMR": [("visir_spc_reduce", "TPL", TPL)],
    },
)

AMBER = Expect(
    catg={
        ("CALIB", "DARK", "IMAGE"): "AMBER_DETECTOR_DARK",
        ("CALIB", "FLAT,LAMP", "IMAGE"): "AMBER_DETECTOR_FFM",
        ("CALIB", "WAVE,3TEL", "INTERFEROMETRY"): "AMBER_3WAVE",
        ("CALIB", "3P2V", "INTERFEROMETRY"): "AMBER_3P2V",
        ("ACQUISITION", "OBJECT", "IMAGE"): "ACQUISITION",
        ("CALIB", "DARK", "INTERFEROMETRY"): "AMBER_DARK_CALIB",
        ("CALIB", "SKY", "INTERFEROMETRY"): "AMBER_SKY_CALIB",
        ("CALIB", "OBJECT", "INTERFEROMETRY"): "AMBER_CALIB",
        ("SCIENCE", "DARK", "INTERFEROMETRY"): "AMBER_DARK_SCIENCE",
        ("SCIENCE", "SKY", "INTERFEROMETRY"): "AMBER_SKY_SCIENCE",
        ("SCIENCE", "OBJECT", "INTERFEROMETRY"): "AMBER_SCIENCE",
    },
    statements={
        "AMBER_DETECTOR_DARK": [("AMBER_DETECTOR", "TPL", TPL)],
        "AMBER_DETECTOR_FFM": [("AMBER_DETECTOR", "TPL", TPL)],
        "AMBER_3WAVE": [("AMBER_P2VM", "TPL", TPL)],
        "AMBER_3P2V": [("AMBER_P2VM", "TPL", TPL)],
        **{catg: [("AMBER_SCICAL", "TPL", TPL)]
           for catg in ("AMBER_CALIB", "AMBER_SKY_CALIB", "AMBER_DARK_CALIB", "AMBER_SCIENCE",
                        "AMBER_SKY_SCIENCE", "AMBER_DARK_SCIENCE")},
    },
)

EXPECT = {"NACO": NACO, "HAWKI": HAWKI, "MUSE": MUSE, "VIMOS": VIMOS, "VISIR": VISIR, "AMBER": AMBER}


def expected_catg(instrument: str, header: Header) -> str | None:
    catg = EXPECT[instrument].catg_of(header)
    return None if catg == "NO_FLAT" else catg


def expected_groups(instrument: str, headers: list[dict[str, Any]]) -> set[tuple[str, frozenset[Any], tuple[str, ...]]]:
    """The groups the statements make of the frames: (action, grouping values, member names)."""
    expect = EXPECT[instrument]
    groups: dict[tuple[str, tuple[Any, ...]], list[str]] = defaultdict(list)
    for header in headers:
        for action, kind, keys in expect.statements.get(expected_catg(instrument, header) or "", []):
            if kind == "FRAME":
                key: tuple[Any, ...] = (("ARCFILE", header["ARCFILE"]),)
            elif kind == "TPL":
                key = (("TPL.START", header["TPL.START"]), *((k, header[k]) for k in keys))
            else:
                key = tuple((k, header[k]) for k in keys)
            groups[(action, key)].append(str(header["ARCFILE"]))
    return {(action, frozenset(key), tuple(sorted(names))) for (action, key), names in groups.items()}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code = main(list(argv))
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


# --- the synthetic headers themselves --------------------------------------------------------------------

@pytest.mark.parametrize("instrument", INSTRUMENTS)
def test_night_headers_are_shaped_like_raw_frames(instrument: str, tmp_path: Path) -> None:
    headers = night_headers(instrument, DAY)
    assert headers == night_headers(instrument, DAY)  # deterministic
    names = [h["ARCFILE"] for h in headers]
    assert len(set(names)) == len(names)
    for header in headers:
        raw = RawName.parse(str(header["ARCFILE"]))
        assert raw.prefix == instrument and header["DATE-OBS"] == raw.stem.split(".", 1)[1]
        assert 1 <= int(header["TPL.EXPNO"]) <= int(header["TPL.NEXP"])
        assert str(header["TPL.START"]) <= str(header["DATE-OBS"])
        assert f"{DAY}T12:00:00" <= str(header["DATE-OBS"]) < "2024-07-13T12:00:00"  # within the DFOS night
    instrume = {h["INSTRUME"] for h in headers}
    assert instrume == {"NAOS+CONICA" if instrument == "NACO" else instrument}
    paths = write_header_night(tmp_path, instrument, DAY)
    assert [p.name for p in paths] == [str(n).replace(".fits", ".hdr") for n in names]
    from dfos.headers.io import read_header

    back = dict(read_header(paths[0]).cards)
    assert {k: back[k] for k in headers[0]} == headers[0]


def test_many_headers_for_benchmarks() -> None:
    frames = many_headers("MUSE", 500, DAY)
    assert len(frames) == 500 and len({f["ARCFILE"] for f in frames}) == 500
    assert frames == many_headers("MUSE", 500, DAY)
    assert {f["INS.MODE"] for f in frames} == {"WFM-NOAO-N", "WFM-NOAO-E", "WFM-AO-N", "NFM-AO-N"}
    assert len(many_headers("VIMOS", 10, DAY)) == 10
    with pytest.raises(ValueError, match="no synthetic headers"):
        night_headers("ESPRESSO", DAY)


# --- classification and organisation through the CLI -----------------------------------------------------

@pytest.mark.parametrize("instrument", INSTRUMENTS)
def test_eso_rules_classify_and_organise_the_night(instrument: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    headers = night_headers(instrument, DAY)
    paths = [str(p) for p in write_header_night(tmp_path, instrument, DAY)]
    rules = rule_file(instrument)

    classified = run(capsys, "oca", "classify", "--rules", rules, "--json", *paths)
    for path, header in zip(paths, headers, strict=True):
        catg = expected_catg(instrument, header)
        assert classified[path].get("DO.CATG") == catg, (header["ARCFILE"], header["DPR.TYPE"])
        if instrument == "MUSE" and catg in MUSE.also["filtered"]:
            assert classified[path]["INS.OPTI1.FILTER"] is str(header["INS.OPTI1.NAME"]).startswith("Blue")
        elif instrument == "MUSE":
            assert "INS.OPTI1.FILTER" not in classified[path]

    organised = run(capsys, "oca", "organise", "--rules", rules, "--json", *paths)
    found = {(g["action"], frozenset(g["keys"].items()), tuple(sorted(g["files"]))) for g in organised["groups"]}
    assert found and found == expected_groups(instrument, headers)
    orphans = {str(h["ARCFILE"]) for h in headers if expected_catg(instrument, h) not in EXPECT[instrument].statements}
    assert set(organised["orphans"]) == orphans


def test_examples_named_in_the_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A few groups spelled out: three NACO darks of one template, HAWK-I twilight flats split by DIT,
    HAWK-I science of two templates of one OB, the MUSE lamp flats per mode, VIMOS quadrants."""
    def groups(instrument: str) -> list[dict[str, Any]]:
        paths = [str(p) for p in write_header_night(tmp_path / instrument, instrument, DAY)]
        return list(run(capsys, "oca", "organise", "--rules", rule_file(instrument), "--json", *paths)["groups"])

    darks = [g for g in groups("NACO") if g["action"] == "naco_img_dark"]
    assert [len(g["files"]) for g in darks] == [3, 3]
    assert darks[0]["keys"] == {"TPL.START": "2024-07-12T17:00:00"}
    hawki = groups("HAWKI")
    flats = [g for g in hawki if g["action"] == "SKY_FLATS"]
    assert [(g["keys"]["DET.DIT"], len(g["files"])) for g in flats] == [(2.0, 3), (4.0, 3)]
    assert len({g["keys"]["TPL.START"] for g in flats}) == 1
    science = [g for g in hawki if g["action"] == "SCIENCE_FRAMES"]
    assert len(science) == 1 and len(science[0]["files"]) == 8 + 4
    detmon = [g for g in hawki if g["action"] == "detmon_ir_lg"]
    assert len(detmon) == 1 and len(detmon[0]["files"]) == 6
    muse_flats = [g for g in groups("MUSE") if g["action"] == "muse_flat"]
    assert sorted(len(g["files"]) for g in muse_flats) == [5, 5, 11]
    bias = [g for g in groups("VIMOS") if g["action"] == "vmBias"]
    assert len(bias) == 1 and len(bias[0]["files"]) == 5 * 4


# --- rules that are true together, regexp, products -------------------------------------------------------

def true_rules(rules: RuleSet, header: Header) -> list[str]:
    """The DO.CATG constants of every classification rule true for the header, in file order."""
    found = []
    for rule in rules.classify:
        if compile_condition(rule.condition)(header, None):
            found += [str(a.value) for a in rule.assignments if a.key == "DO.CATG" and a.value is not None]
    return found


@pytest.mark.parametrize(("instrument", "dpr", "wins", "loses"), [
    ("NACO", ("CALIB", "DARK,DETCHECK", "IMAGE"), "DETMON_LAMP_OFF", "CAL_DARK"),
    ("NACO", ("CALIB", "FLAT,LAMP,DETCHECK", "IMAGE"), "DETMON_LAMP_ON", "CAL_FLAT_LAMP"),
    ("HAWKI", ("CALIB", "LINEARITY,FLAT,DETCHAR", "IMAGE"), "DETMON_LAMP_ON", "FLAT_TWILIGHT"),
    ("HAWKI", ("SCIENCE", "OBJECT", "IMAGE"), "OBJECT", "JITTER_OBS"),
    ("VISIR", ("CALIB", "STD", "IMAGE,BURST,CHOPNOD"), "IM_CAL_PHOT_BURST", "IM_CAL_PHOT"),
    ("VISIR", ("ACQUISITION", "OBJECT", "IMAGE"), "ACQ_OBS_CHO_NOD_JIT", "ACQUISITION"),
])
def test_two_true_rules_the_later_wins(instrument: str, dpr: tuple[str, str, str], wins: str, loses: str,
                                       tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    header = next(h for h in night_headers(instrument, DAY) if (h["DPR.CATG"], h["DPR.TYPE"], h["DPR.TECH"]) == dpr)
    rules = load_rules([Path(rule_file(instrument))])
    assert true_rules(rules, header) == [loses, wins]  # both true, in this order in the file
    path = write_headers(tmp_path, [header])[0]
    assert run(capsys, "oca", "classify", "--rules", rule_file(instrument), "--json", str(path))[str(path)] == \
        {"DO.CATG": wins}


def test_muse_regexp_on_tpl_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """'TPL.ID regexp "MUSE_[wn]fm_cal_specflat"': wfm and nfm flats are FLAT, an illumination flat (whose
    DPR.TYPE also holds FLAT and LAMP) is ILLUMFLAT, a lamp flat of another template nothing."""
    night = night_headers("MUSE", DAY)
    wfm = next(h for h in night if h["TPL.ID"] == "MUSE_wfm_cal_specflat")
    nfm = next(h for h in night if h["TPL.ID"] == "MUSE_nfm_cal_specflat")
    illum = next(h for h in night if h["TPL.ID"] == "MUSE_wfm_cal_illum")
    other = {**wfm, "TPL.ID": "MUSE_xfm_cal_specflat", "ARCFILE": "MUSE.2024-07-12T18:00:00.001.fits"}
    within = {**wfm, "TPL.ID": "OLD_MUSE_wfm_cal_specflat_v2", "ARCFILE": "MUSE.2024-07-12T18:00:00.002.fits"}
    paths = [str(p) for p in write_headers(tmp_path, [wfm, nfm, illum, other, within])]
    got = run(capsys, "oca", "classify", "--rules", rule_file("MUSE"), "--json", *paths)
    assert [got[p].get("DO.CATG") for p in paths] == ["FLAT", "FLAT", "ILLUMFLAT", None, "FLAT"]  # found anywhere
    assert [got[p].get("INS.OPTI1.FILTER") for p in paths] == [True, True, True, None, True]


def test_product_headers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """NACO's and VISIR's last rule 'if PRO.CATG is string then { DO.CATG = PRO.CATG; }' copies the product's
    category; MUSE's product rules add INS.OPTI1.FILTER from the product's own INS.OPTI1.NAME."""
    for instrument in ("NACO", "VISIR"):
        products = calibration_headers(instrument, DAY)
        paths = [str(p) for p in write_headers(tmp_path / instrument, products)]
        got = run(capsys, "oca", "classify", "--rules", rule_file(instrument), "--json", *paths)
        assert [got[p] for p in paths] == [{"DO.CATG": h["PRO.CATG"]} for h in products]
    products = [h for h in calibration_headers("MUSE", DAY) if h["PRO.CATG"] == "TRACE_TABLE"]
    paths = [str(p) for p in write_headers(tmp_path / "MUSE", products)]
    got = run(capsys, "oca", "classify", "--rules", rule_file("MUSE"), "--json", *paths)
    assert [got[p] for p in paths] == [
        {"DO.CATG": "TRACE_TABLE", "INS.OPTI1.FILTER": str(h["INS.OPTI1.NAME"]).startswith("Blue")}
        for h in products]


# --- association with a calibration memory ----------------------------------------------------------------

def memory(instrument: str, classifier: Classifier) -> list[Calib]:
    calibs = []
    for header in calibration_headers(instrument, DAY):
        frame = classifier.classify(Frame(str(header["ARCFILE"]), header))
        name = frame.name.removesuffix(".fits")
        calibs.append(Calib(frame, f"$DFO_CAL_DIR/MCAL/{name}.hdr", f"$DFO_CAL_DIR/{name}.fits", mid_exposure(frame)))
    return calibs


def associate_night(instrument: str, mode: str) -> tuple[AssociationResult, list[Calib]]:
    rules = load_rules([Path(rule_file(instrument))])
    classifier = Classifier(rules.classify)
    frames = [Frame(str(h["ARCFILE"]), h) for h in night_headers(instrument, DAY)]
    calibs = memory(instrument, classifier)
    result = associate(frames, rules, calibs, instrument=instrument, date=str(DAY), mode=mode, classifier=classifier)
    return result, calibs


def taken(result: AssociationResult, action: str, tag: str) -> list[list[Header]]:
    """Per AB of the action, the headers of the files taken for the tag."""
    found = []
    for planned in result.abs:
        if planned.group.action == action:
            match = next(m for m in planned.inputs if m.select.tag == tag)
            found.append([c.frame.header for c in match.taken])
    return found


def closest(calibs: list[Calib], at: float, accept: Callable[[Header], bool]) -> Header:
    """The memory product that should be taken: accepted, nearest in time, earlier first on a tie."""
    return min((c for c in calibs if accept(c.frame.header)), key=lambda c: (abs(c.mid - at), c.mid, c.name)) \
        .frame.header


def test_naco_jitter_takes_the_flat_of_its_filter_and_camera() -> None:
    result, _ = associate_night("NACO", "SCIENCE")
    flats = taken(result, "naco_img_jitter", "MASTER_IMG_FLAT")
    assert [[(f["INS.OPTI6.NAME"], f["INS.OPTI7.NAME"]) for f in ab] for ab in flats] == [[("Ks", "S27")]]
    calib, _ = associate_night("NACO", "CALIB")
    zpoint = [p.ab for p in calib.abs if p.ab.action == "naco_img_zpoint"]
    assert len(zpoint) == 1 and zpoint[0].completeness.value == "COMPLETE"
    assert [c.tag for c in zpoint[0].mcalib] == ["IMG_STD_CATALOG"]


def test_hawki_darks_by_dit_and_reference_darks_from_input_files() -> None:
    result, _ = associate_night("HAWKI", "CALIB")
    flats = [p for p in result.abs if p.group.action == "SKY_FLATS"]
    for planned in flats:
        dark = next(m for m in planned.inputs if m.select.tag == "MASTER_DARK").taken
        assert [c.frame.header["DET.DIT"] for c in dark] == [planned.group.first.header["DET.DIT"]]
        assert planned.ab.completeness.value == "COMPLETE"
    # "select file as REFERENCE_DARK from inputFiles": the pool holds the memory and the night's raw frames
    references = taken(result, "DARKS", "REFERENCE_DARK")
    darks = [p.group.first.header for p in result.abs if p.group.action == "DARKS"]
    assert [[(r["PRO.CATG"], r["DET.DIT"], r["DET.NDIT"]) for r in ab] for ab in references] == \
        [[("REFERENCE_DARK", d["DET.DIT"], d["DET.NDIT"])] for d in darks]
    assert {planned.inputs[0].select.pool for planned in result.abs if planned.group.action == "DARKS"} == \
        {"inputFiles"}


def test_muse_scibasic_takes_calibrations_of_its_mode_and_filter() -> None:
    result, calibs = associate_night("MUSE", "SCIENCE")
    scibasic = [p for p in result.abs if p.group.action == "muse_scibasic"]
    assert len(scibasic) == 4 + 2  # the OBJECT frames; the SKY frame is an orphan
    for planned in scibasic:
        first = planned.group.first.header
        blue = str(first["INS.OPTI1.NAME"]).startswith("Blue")
        trace = next(m for m in planned.inputs if m.select.tag == "TRACE_TABLE").taken
        def same_setup(h: Header, blue: bool = blue, opti2: Any = first["INS.OPTI2.NAME"]) -> bool:
            return bool(h["PRO.CATG"] == "TRACE_TABLE" and str(h["INS.OPTI1.NAME"]).startswith("Blue") == blue
                        and h["INS.OPTI2.NAME"] == opti2)

        expected = closest(calibs, mid_exposure(planned.group.first), same_setup)
        assert [c.frame.header for c in trace] == [expected]
        assert [c.frame.classes["INS.OPTI1.FILTER"] for c in trace] == [blue]
        flat = next(m for m in planned.inputs if m.select.tag == "MASTER_FLAT").taken
        assert [c.frame.header["INS.MODE"] for c in flat] == [first["INS.MODE"]]
        assert planned.ab.completeness.value == "COMPLETE"
    assert {o.frame.header["DPR.TYPE"] for o in result.orphans} == {"SKY", "OBJECT"}  # sky, acquisition


def test_vimos_optional_equality_on_quadrant_keywords() -> None:
    """'inputFile.INS.FILT2.ID ?= INS.FILT2.ID': a quadrant-1 sky flat lacks INS.FILT2..4.ID, as does the
    quadrant-1 science frame, and still matches; the flat of another filter (INS.FILT1.ID differs) does not."""
    result, calibs = associate_night("VIMOS", "SCIENCE")
    stare = [p for p in result.abs if p.group.action == "vmImObsStare"]
    assert len(stare) == 3 * 4
    for planned in stare:
        first = planned.group.first.header
        quadrant = first["OCS.CON.QUAD"]
        flat = next(m for m in planned.inputs if m.select.tag == "IMG_MASTER_SKY_FLAT").taken
        assert len(flat) == 1
        header = flat[0].frame.header
        assert header["OCS.CON.QUAD"] == quadrant and header[f"INS.FILT{quadrant}.ID"] == f"R_{quadrant}"
        other = [q for q in range(1, 5) if q != quadrant]
        assert all(f"INS.FILT{q}.ID" not in header and f"INS.FILT{q}.ID" not in first for q in other)
        bias = next(m for m in planned.inputs if m.select.tag == "MASTER_BIAS").taken
        assert [c.frame.header["DET.CHIP1.ID"] for c in bias] == [first["DET.CHIP1.ID"]]
        assert planned.ab.completeness.value == "COMPLETE"
    # the I-band flats of the same quadrants were candidates and were refused
    refused = {c.name for p in stare for m in p.inputs if m.select.tag == "IMG_MASTER_SKY_FLAT"
               for c in m.considered if not c.taken}
    i_flats = {c.name for c in calibs if c.frame.header["PRO.CATG"] == "IMG_MASTER_SKY_FLAT"
               and any(str(v).startswith("I_") for v in c.frame.header.values())}
    assert refused & i_flats


def test_visir_and_amber_take_their_static_calibrations() -> None:
    visir, _ = associate_night("VISIR", "CALIB")
    phot = [p.ab for p in visir.abs if p.ab.action == "visir_img_reduce_phot"]
    # the chop-nod standard, the burst standard and the imaging acquisition (its DPR.CATG is not SCIENCE)
    assert sorted(ab.dpr_catg for ab in phot) == ["ACQUISITION", "CALIB", "CALIB"]
    for ab in phot:
        assert sorted(c.tag for c in ab.mcalib) == ["IMG_STD_CATALOG", "STATIC_MASK"]
        assert ab.completeness.value == "COMPLETE"
    amber, _ = associate_night("AMBER", "SCIENCE")
    scical = [p.ab for p in amber.abs if p.ab.action == "AMBER_SCICAL"]
    assert len(scical) == 1 and len(scical[0].rawfiles) == 5
    assert sorted(c.tag for c in scical[0].mcalib) == ["AMBER_BADPIX", "AMBER_FLATFIELD", "CALIB_DATABASE_H",
                                                       "CALIB_DATABASE_J", "CALIB_DATABASE_K"]
    assert scical[0].completeness.value == "COMPLETE"
