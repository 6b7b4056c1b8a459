"""The decisions of dfos compare: tolerances (file, defaults, patterns), what differs in ABs, products, QC1,
scores and decisions, the ranking, and the report's forms (pure code, no workspace)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from dfos.ab.model import AB, CalibInput, Completeness, ProcessStatus, Product, RawInput
from dfos.errors import FormatError
from dfos.qc.compare import (
    DEFAULT_TOLERANCES,
    JSON_FORMAT,
    AbQC,
    CompareReport,
    Difference,
    HduComparison,
    Kind,
    PixelStats,
    ProductComparison,
    QC1Row,
    Severity,
    Tolerance,
    ab_differences,
    ab_set_differences,
    certification_differences,
    parse_tolerances,
    product_differences,
    qc1_differences,
    ranked,
    verdict_differences,
)
from dfos.qc.compare_render import render_html, render_text

KEY, MODE = "2013-02-12", "CALIB"


def _ab(**changes: object) -> AB:
    ab = AB(name="UVES.X_tpl.ab", instrument="UVES", date=KEY, dpr_catg="CALIB", raw_type="BIAS_BLUE",
            recipe="uves_cal_mbias", drs_type="CON", batch_id="CALIB_2013-02-12", event="E", action="A",
            completeness=Completeness.COMPLETE, process_status=ProcessStatus.SUCCESSFUL, obs_prog_id="60.A-9022(C)",
            obs_id="1", obs_mode="NONE", mjd_obs=56335.7, mjd_obs_mod=56335.7, prod_root="r.UVES.X_tpl",
            prod_path="$DFS_PRODUCT/BIAS_BLUE/2013-02-12", log_name="r.UVES.X_tpl.log", match_keys=(),
            rawfiles=(RawInput("$DFO_RAW_DIR/2013-02-12/UVES.X.fits", "BIAS_BLUE"),),
            mcalib=(CalibInput("$DFO_CAL_DIR/MCAL/2013-02-11/M.hdr", "MASTER_BIAS", "$DFO_CAL_DIR/2013-02-11/M.fits"),),
            massoc=(), params=("--a=1",), products=(Product("r.UVES.X_tpl_0000.fits", "MASTER_BIAS_BLUE"),),
            waitfor=(), missing=())
    return replace(ab, **changes)  # type: ignore[arg-type]


def _row(value: float | None, **changes: object) -> QC1Row:
    row = QC1Row("X.ab", "r.X_0000.fits", "MASTER_BIAS_BLUE", "QC BIAS LEVEL", value, None, 0, 170.0, 190.0, "fixed")
    return replace(row, **changes)  # type: ignore[arg-type]


# -- tolerances ---------------------------------------------------------------------------------------------------

def test_a_tolerance_is_relative_or_absolute_whichever_is_wider() -> None:
    t = Tolerance(rel=1e-3, abs=0.5)
    assert t.within(1000.0, 1000.9) and not t.within(1000.0, 1001.1)  # rel: 1.001
    assert t.within(0.0, 0.5) and not t.within(0.0, 0.51)  # abs
    assert t.within(None, None) and not t.within(None, 1.0) and not t.within(1.0, None)
    assert t.within(math.nan, math.nan) and not t.within(math.nan, 1.0)
    assert t.within(math.inf, math.inf) and not t.within(math.inf, -math.inf)
    assert DEFAULT_TOLERANCES.for_param("QC X", "ANY") == Tolerance(1e-6, 1e-9)


def test_the_tolerance_file_takes_the_first_matching_rule_else_its_default() -> None:
    tolerances = parse_tolerances("""
# comments are fine
[default]
rel = 1e-4

[pixels]
abs = 0.01

[[tolerance]]
param = "QC OUT? RON *"
pro_catg = "MASTER_BIAS_*"
abs = 0.05

[[tolerance]]
param = "QC OUT? RON *"
rel = 0.1
""", "tol.toml")
    assert tolerances.default == Tolerance(1e-4, 0.0) and tolerances.pixels == Tolerance(0.0, 0.01)
    assert tolerances.for_param("QC OUT1 RON MASTER", "MASTER_BIAS_BLUE") == Tolerance(0.0, 0.05)
    assert tolerances.for_param("QC OUT1 RON MASTER", "MASTER_DARK_BLUE") == Tolerance(0.1, 0.0)
    assert tolerances.for_param("QC BIAS LEVEL", "MASTER_BIAS_BLUE") == Tolerance(1e-4, 0.0)
    assert tolerances.source == "tol.toml"
    assert parse_tolerances("", "empty.toml").default == Tolerance()


@pytest.mark.parametrize(("text", "says"), [
    ("[default\nrel=1", "not TOML"),
    ("[default]\nrel = -1", "rel must be a number >= 0"),
    ("[default]\nrel = 'x'", "rel must be a number >= 0"),
    ("[default]\nrelative = 1", "unknown key 'relative'"),
    ("[[tolerance]]\nrel = 1", "param must be a non-empty text"),
    ("[thresholds]\nx = 1", "unknown table 'thresholds'"),
    ("tolerance = 3", "list of tables"),
])
def test_a_broken_tolerance_file_is_one_format_error(text: str, says: str) -> None:
    with pytest.raises(FormatError, match=says) as caught:
        parse_tolerances(text, "bad.toml")
    assert caught.value.message.startswith("bad.toml")


# -- ABs -----------------------------------------------------------------------------------------------------------

def test_the_same_ab_agrees_and_each_change_is_found_with_its_kind() -> None:
    assert ab_differences(KEY, MODE, _ab(), _ab()) == []
    cases = {
        Kind.RECIPE: _ab(recipe="uves_cal_other"),
        Kind.PARAMS: _ab(params=("--a=2",)),
        Kind.INPUTS: _ab(rawfiles=(RawInput("$DFO_RAW_DIR/2013-02-12/UVES.Y.fits", "BIAS_BLUE"),)),
        Kind.STATUS: _ab(process_status=ProcessStatus.FAILED),
    }
    for kind, changed in cases.items():
        (found,) = ab_differences(KEY, MODE, _ab(), changed)
        assert found.kind is kind, kind
    (mcalib,) = ab_differences(KEY, MODE, _ab(), _ab(mcalib=()))
    assert (mcalib.item, mcalib.b) == ("MCALIB", [])  # MCALIB only: the SOF derived from it says nothing more
    edited = _ab(sof_content=(("$DFO_RAW_DIR/2013-02-12/UVES.X.fits", "BIAS_BLUE"),))
    (sof,) = ab_differences(KEY, MODE, _ab(), edited)
    assert (sof.kind, sof.item, sof.b) == (Kind.INPUTS, "SOF_CONTENT", [])
    (order,) = ab_differences(KEY, MODE, _ab(params=("--a=1", "--b=2")), _ab(params=("--b=2", "--a=1")))
    assert order.note == "another order"


def test_paths_are_compared_as_written_so_other_roots_agree() -> None:
    # the same $DFO_* references: no difference whatever the roots are
    assert ab_differences(KEY, MODE, _ab(), _ab(prod_path="$DFS_PRODUCT/BIAS_BLUE/2013-02-12")) == []
    moved = _ab(mcalib=(CalibInput("/old/root/calib/M.hdr", "MASTER_BIAS", "/old/root/calib/M.fits"),))
    (found,) = [d for d in ab_differences(KEY, MODE, _ab(), moved) if d.item == "MCALIB"]
    assert found.kind is Kind.INPUTS and "/old/root/calib/M.hdr" in found.b[0]


def test_abs_or_batches_only_one_side_has() -> None:
    diffs = ab_set_differences(KEY, MODE, "CALIB_2013-02-12", ["a.ab", "b.ab"], ["b.ab", "c.ab"])
    assert [(d.kind, d.subject, d.note) for d in diffs] == [(Kind.AB, "a.ab", "only in A"),
                                                            (Kind.AB, "c.ab", "only in B")]
    (batch,) = ab_set_differences(KEY, MODE, "CALIB_2013-02-12", None, ["b.ab"])
    assert batch.kind is Kind.BATCH and "only B has the AB list" in batch.note
    assert ab_set_differences(KEY, MODE, "CALIB_2013-02-12", None, None) == []


# -- products --------------------------------------------------------------------------------------------------------

def _stats(mean: float, peak: float = 200.0) -> PixelStats:
    return PixelStats(mean, mean, 1.0, peak, 100)


def test_products_are_matched_by_pro_catg_and_compared_by_their_largest_pixel_difference() -> None:
    same = ProductComparison(KEY, MODE, "X.ab", "MASTER_BIAS_BLUE", "r.X_0000.fits", "r.X_0000.fits",
                             (HduComparison("0", _stats(180.0), _stats(180.0), 0.0),))
    off = replace(same, hdus=(HduComparison("0", _stats(180.0), _stats(180.1), 0.5),))
    shape = replace(same, hdus=(HduComparison("0", _stats(1.0), _stats(1.0), None, "shape (2, 2) in A, (2, 3) in B"),))
    products = [("MASTER_BIAS_BLUE", "r.X_0000.fits")]
    assert product_differences(KEY, MODE, "X.ab", products, products, [same], DEFAULT_TOLERANCES) == []
    (pixels,) = product_differences(KEY, MODE, "X.ab", products, products, [off], DEFAULT_TOLERANCES)
    assert pixels.kind is Kind.PIXELS and "largest |A-B| 0.5" in pixels.note
    assert off.max_abs_diff == 0.5
    (broken,) = product_differences(KEY, MODE, "X.ab", products, products, [shape], DEFAULT_TOLERANCES)
    assert "shape" in broken.note
    loose = replace(DEFAULT_TOLERANCES, pixels=Tolerance(rel=0.01, abs=0.0))  # 1% of the peak 200: 2.0
    assert product_differences(KEY, MODE, "X.ab", products, products, [off], loose) == []
    (missing,) = product_differences(KEY, MODE, "X.ab", [*products, ("BKG_FLAT", "r.X_0001.fits")], products, [],
                                     DEFAULT_TOLERANCES)
    assert (missing.kind, missing.item, missing.a, missing.b) == (Kind.PRODUCT, "BKG_FLAT", ["r.X_0001.fits"], [])


# -- QC1, scores, decisions -------------------------------------------------------------------------------------------

def test_qc1_values_within_tolerance_agree_and_beyond_it_differ() -> None:
    assert qc1_differences(KEY, MODE, [_row(180.0)], [_row(180.0 * (1 + 1e-7))], DEFAULT_TOLERANCES) == []
    (found,) = qc1_differences(KEY, MODE, [_row(180.0)], [_row(180.1)], DEFAULT_TOLERANCES)
    assert (found.kind, found.a, found.b) == (Kind.QC1, 180.0, 180.1) and "beyond tolerance" in found.note
    wide = parse_tolerances('[[tolerance]]\nparam = "QC BIAS *"\nabs = 0.5\n', "t")
    assert qc1_differences(KEY, MODE, [_row(180.0)], [_row(180.1)], wide) == []
    (text,) = qc1_differences(KEY, MODE, [_row(None, text="A")], [_row(None, text="B")], DEFAULT_TOLERANCES)
    assert (text.a, text.b) == ("A", "B")
    (only,) = qc1_differences(KEY, MODE, [_row(180.0)], [], DEFAULT_TOLERANCES)
    assert only.note == "only in A" and only.b is None


def test_a_changed_threshold_is_a_score_row_and_nothing_else() -> None:
    (found,) = qc1_differences(KEY, MODE, [_row(180.0)], [_row(180.0, low=171.0)], DEFAULT_TOLERANCES)
    assert found.kind is Kind.SCORE and found.note == "changed: low" and found.b["low"] == 171.0
    (red,) = qc1_differences(KEY, MODE, [_row(180.0)], [_row(180.0, score=1, high=179.0)], DEFAULT_TOLERANCES)
    assert red.note == "changed: score, high"


def test_verdicts_and_certification_decisions() -> None:
    green, red = AbQC("X.ab", "green", 0, 3), AbQC("X.ab", "red", 1, 3)
    assert verdict_differences(KEY, MODE, {"X.ab": green}, {"X.ab": green}) == []
    (found,) = verdict_differences(KEY, MODE, {"X.ab": green}, {"X.ab": red})
    assert (found.kind, found.a, found.b) == (Kind.SCORE, "green 0/3", "red 1/3")
    same = certification_differences(KEY, MODE, {"X.ab": ("certified", "auto")}, {"X.ab": ("certified", "anna")},
                                     ["X.ab"])
    assert same == []  # who decided does not count
    (decision,) = certification_differences(KEY, MODE, {"X.ab": ("certified", "auto")}, {}, ["X.ab"])
    assert (decision.kind, decision.a, decision.b) == (Kind.CERTIFICATION, "certified (auto)", None)


# -- ranking and the report ------------------------------------------------------------------------------------------

def test_differences_are_ranked_by_severity_then_key_and_subject() -> None:
    rows = [Difference(KEY, MODE, Kind.CERTIFICATION, "a.ab"), Difference(KEY, MODE, Kind.QC1, "b.ab", "Q"),
            Difference(KEY, MODE, Kind.PIXELS, "a.ab"), Difference(KEY, MODE, Kind.SCORE, "a.ab"),
            Difference(KEY, MODE, Kind.RECIPE, "z.ab"), Difference(KEY, MODE, Kind.AB, "y.ab"),
            Difference("2013-02-11", MODE, Kind.QC1, "c.ab", "Q")]
    order = [(d.severity, d.key, d.subject) for d in ranked(rows)]
    assert [s for s, _, _ in order] == [Severity.MISSING, Severity.PROCESSING, Severity.QC1, Severity.QC1,
                                       Severity.PIXELS, Severity.SCORE, Severity.CERTIFICATION]
    assert order[2][1] == "2013-02-11"
    assert [k.severity for k in (Kind.BATCH, Kind.PRODUCT, Kind.STATUS)] == [Severity.MISSING] * 3


def test_the_report_in_text_json_and_html() -> None:
    diffs = ranked([Difference(KEY, MODE, Kind.PARAMS, "X.ab", "PARAM", [], ["--x=<1>"], "0 only in A, 1 only in B"),
                    Difference(KEY, MODE, Kind.QC1, "X.ab", "QC BIAS LEVEL", 180.0, math.nan, "beyond tolerance")])
    product = ProductComparison(KEY, MODE, "X.ab", "MASTER_BIAS_BLUE", "r.X_0000.fits", "r.X_0000.fits",
                                (HduComparison("0", _stats(180.0), _stats(180.0), 0.0),))
    report = CompareReport("/a", "/b", (KEY, "2013-02-13"), diffs, (product,),
                           (("ABs", 1), ("products", 1), ("QC1 parameters", 1)))
    assert not report.agree and not report.agree_on(KEY) and report.agree_on("2013-02-13")
    text = render_text(report)
    assert text.splitlines()[0] == ("DIFFER on 1 of 2 keys: 2 differences (1 processing, 1 qc1); compared 1 ABs, "
                                    "1 products, 1 QC1 parameters")
    assert text.index("--x=<1>") < text.index("QC BIAS LEVEL")
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["format"] == JSON_FORMAT and data["agree"] is False
    assert data["keys"] == {KEY: False, "2013-02-13": True}
    assert data["by_severity"] == {"processing": 1, "qc1": 1}
    first = data["differences"][0]
    assert set(first) == {"rank", "severity", "severity_name", "kind", "key", "mode", "subject", "item", "a", "b",
                          "note"}
    assert (first["rank"], first["kind"], first["severity"]) == (1, "params", 2)
    assert data["differences"][1]["b"] == "nan"
    assert data["products"][0]["hdus"][0]["a"]["mean"] == 180.0
    page = render_html(report)
    assert page.startswith("<!DOCTYPE html>") and "--x=&lt;1&gt;" in page and "<script src" not in page
    assert "http" not in page.split("<body>", 1)[1].split('<script type="application/json"', 1)[0]
    agree = CompareReport("/a", "/b", (KEY,), (), (), (("ABs", 3),))
    assert agree.agree and render_text(agree).startswith("AGREE within tolerance on 1 key (3 ABs)")
