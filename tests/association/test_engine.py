"""The association engine on hand-made frames: cycles, withdrawal, templates, order, fallbacks."""

from __future__ import annotations

from typing import Any

from dfos.association.engine import associate
from dfos.association.frames import Frame
from dfos.oca.parser import parse_rules

CLASSIFY = """
if DPR.TYPE == "A" then { DO.CATG = "RAW_A"; }
if DPR.TYPE == "B" then { DO.CATG = "RAW_B"; }
"""


def frame(name: str, mjd: float, kind: str, **extra: Any) -> Frame:
    return Frame(name, {"DPR.CATG": "CALIB", "DPR.TYPE": kind, "MJD-OBS": mjd, "EXPTIME": 0.0, **extra})


def run(rules_text: str, frames: list[Frame]) -> dict[str, Any]:
    result = associate(frames, parse_rules(CLASSIFY + rules_text), [], instrument="X", date="2013-02-12")
    return {p.ab.name: p.ab for p in result.abs} | {"__order__": [p.ab.name for p in result.abs],
                                                    "__orphans__": result.orphans}


def test_a_dependency_cycle_makes_both_abs_incomplete() -> None:
    rules = """
    select execute(MAKE_A) from inputFiles where SIG.FRAME == 1 and DO.CATG == "RAW_A";
    select execute(MAKE_B) from inputFiles where SIG.FRAME == 1 and DO.CATG == "RAW_B";
    action MAKE_A { select file as PB from calibFiles where PRO.CATG == "PROD_B"; product PROD_A; recipe ra; }
    action MAKE_B { select file as PA from calibFiles where PRO.CATG == "PROD_A"; product PROD_B; recipe rb; }
    """
    abs_ = run(rules, [frame("a.fits", 1.0, "A"), frame("b.fits", 1.1, "B")])
    for name in ("a_frm.ab", "b_frm.ab"):
        assert abs_[name].completeness.value == "INCOMPLETE"
        assert any(reason.startswith("dependency cycle: ") for reason in abs_[name].missing)


def test_withdrawn_products_leave_no_virtual_input_behind() -> None:
    rules = """
    select execute(MAKE_A) from inputFiles where SIG.FRAME == 1 and DO.CATG == "RAW_A";
    select execute(USE_A) from inputFiles where SIG.FRAME == 1 and DO.CATG == "RAW_B";
    action MAKE_A { select file as STATIC from calibFiles where PRO.CATG == "NEVER_THERE"; product PROD_A; recipe ra; }
    action USE_A { select file as PA from calibFiles where PRO.CATG == "PROD_A"; product PROD_B; recipe rb; }
    """
    abs_ = run(rules, [frame("a.fits", 1.0, "A"), frame("b.fits", 1.1, "B")])
    user = abs_["b_frm.ab"]
    assert user.completeness.value == "INCOMPLETE"
    assert user.mcalib == () and user.waitfor == ()


def test_cascade_order_puts_parents_first_even_when_taken_later() -> None:
    rules = """
    select execute(MAKE_A) from inputFiles where SIG.FRAME == 1 and DO.CATG == "RAW_A";
    select execute(USE_A) from inputFiles where SIG.FRAME == 1 and DO.CATG == "RAW_B";
    action MAKE_A { product PROD_A; recipe ra; }
    action USE_A { select file as PA from calibFiles where PRO.CATG == "PROD_A"; recipe rb; }
    """
    abs_ = run(rules, [frame("a.fits", 2.0, "A"), frame("b.fits", 1.0, "B")])  # the user is older
    assert abs_["__order__"] == ["a_frm.ab", "b_frm.ab"]
    assert abs_["b_frm.ab"].waitfor == ("a_frm.ab",)


def test_template_completeness_with_tpl_start_among_group_by_keys() -> None:
    rules = """
    select execute(MAKE_A) from inputFiles where DO.CATG == "RAW_A" group by INS.MODE, TPL.START as (EV, tpl);
    action MAKE_A { recipe ra; }
    """
    frames = [frame(f"a{i}.fits", 1.0 + i / 100, "A", **{"TPL.START": "T1", "TPL.NEXP": "5", "INS.MODE": "M"})
              for i in range(2)]
    ab = run(rules, frames)["a0_tpl.ab"]
    assert ab.completeness.value == "INCOMPLETE"
    assert "template incomplete: 2 of 5 frames (TPL.NEXP)" in ab.missing


def test_frames_beyond_maxret_are_orphans_with_a_reason() -> None:
    rules = """
    maxRet = 2;
    select execute(MAKE_A) from inputFiles where DO.CATG == "RAW_A";
    action MAKE_A { recipe ra; }
    """
    result = run(rules, [frame(f"a{i}.fits", 1.0 + i, "A") for i in range(3)])
    assert [r.ref for r in result["a0_frm.ab"].rawfiles] == ["$DFO_RAW_DIR/2013-02-12/a0.fits",
                                                              "$DFO_RAW_DIR/2013-02-12/a1.fits"]
    assert [(o.frame.name, o.reason) for o in result["__orphans__"]] == [
        ("a2.fits", "left out of a0_frm.ab: its rule takes at most 2 frames")]


def test_numeric_constants_in_organisation_rules() -> None:
    rules = """
    select execute(MAKE_A) from inputFiles where SIG.FRAME == 1 and DET.CHIPS == "2";
    action MAKE_A { recipe ra; }
    """
    result = run(rules, [frame("a.fits", 1.0, "A", **{"DET.CHIPS": 2})])
    assert "a_frm.ab" in result and result["__orphans__"] == ()


def test_products_without_a_do_catg_rule_are_classified_by_pro_catg() -> None:
    from dfos.association.classify import Classifier

    classifier = Classifier(parse_rules(CLASSIFY).classify)
    product = classifier.classify(Frame("p.fits", {"PRO.CATG": "MASTER_X"}))
    assert product.classes["DO.CATG"] == "MASTER_X"


def test_a_withheld_ab_is_made_but_its_products_are_offered_to_no_one() -> None:
    """A rejected AB (``withheld``) keeps its AB and its products, but no other AB takes them, and they are not
    written to the calibration memory; the user falls back on what else qualifies (here: nothing, minRet 0)."""
    rules = """
    select execute(MAKE_A) from inputFiles where SIG.FRAME == 1 and DO.CATG == "RAW_A";
    select execute(USE_A) from inputFiles where SIG.FRAME == 1 and DO.CATG == "RAW_B";
    action MAKE_A { product PROD_A; recipe ra; }
    action USE_A { minRet = 0; maxRet = 1; select file as PA from calibFiles where PRO.CATG == "PROD_A"; recipe rb; }
    """
    frames = [frame("a.fits", 1.0, "A"), frame("b.fits", 1.1, "B")]
    taken = associate(frames, parse_rules(CLASSIFY + rules), [], instrument="X", date="2013-02-12")
    assert {p.ab.name: p.ab.waitfor for p in taken.abs}["b_frm.ab"] == ("a_frm.ab",) and len(taken.vcals) == 1
    held = associate(frames, parse_rules(CLASSIFY + rules), [], instrument="X", date="2013-02-12",
                     withheld={"a_frm.ab"})
    abs_ = {p.ab.name: p.ab for p in held.abs}
    assert abs_["a_frm.ab"].products and abs_["a_frm.ab"].completeness.value == "COMPLETE"
    assert abs_["b_frm.ab"].mcalib == () and abs_["b_frm.ab"].waitfor == () and held.vcals == ()
