"""Every construct of docs/oca.md, evaluated: conditions, assignments, organisation, association, products,
comments and errors; and tests/data/oca/reflex_style.oca (every construct in one Reflex-style file) on a
small night."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dfos.association.classify import Classifier
from dfos.association.engine import AssociationResult, associate
from dfos.association.frames import Frame
from dfos.association.match import Calib
from dfos.association.organise import organise
from dfos.oca.evaluate import compile_condition
from dfos.oca.parser import RuleSyntaxError, parse_rules
from dfos.oca.syntax import Counts, Literal

ROOT = Path(__file__).resolve().parents[2]
REFLEX_STYLE = ROOT / "tests/data/oca/reflex_style.oca"
DATE = "2013-02-12"


def holds(condition: str, frame: dict[str, Any], first: dict[str, Any] | None = None) -> bool:
    rules = parse_rules(f"if {condition} then {{ X = 1; }}", "t.oca")
    return compile_condition(rules.classify[0].condition)(frame, first)


def assigned(text: str, header: dict[str, Any]) -> dict[str, Any]:
    return Classifier(parse_rules(text, "t.oca").classify).assign(header)


def frame(name: str, mjd: float, kind: str, *, catg: Any = "CALIB", **extra: Any) -> Frame:
    return Frame(name, {"DPR.CATG": catg, "DPR.TYPE": kind, "MJD-OBS": mjd, "EXPTIME": 0.0, **extra})


def run(text: str, frames: list[Frame], memory_headers: tuple[tuple[str, dict[str, Any]], ...] = ()
        ) -> AssociationResult:
    rules = parse_rules(text, "t.oca")
    classifier = Classifier(rules.classify)
    memory = [Calib(classifier.classify(Frame(name, header)), f"$DFO_CAL_DIR/MCAL/{name}", f"/cal/{name}",
                    float(header["MJD-OBS"])) for name, header in memory_headers]
    return associate(frames, rules, memory, instrument="TOY", date=DATE, classifier=classifier)


def by_action(result: AssociationResult) -> dict[str, Any]:
    return {p.ab.action: p.ab for p in result.abs}


def answers_at_once(func: Callable[[], Any], seconds: float = 10.0) -> Any:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(func()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    return result[0]


# -- regexp ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("MUSE_[wn]fm", "MUSE_wfm_cal_illum", True),  # found anywhere
        ("MUSE_[wn]fm", "XMUSE_nfm", True),
        ("MUSE_[wn]fm", "MUSE_xfm", False),
        ("^MUSE_wfm_cal$", "MUSE_wfm_cal", True),  # anchors: the whole value
        ("^MUSE_wfm_cal$", "MUSE_wfm_cal_illum", False),
        ("^wfm", "MUSE_wfm", False),
        ("^(B|V)[[:digit:]]+", "V10", True),  # alternation and a POSIX class
        ("^(B|V)[[:digit:]]+", "R2", False),
        ("^(B|V)[[:digit:]]+", "B", False),
        ("^[^0-9]+$", "BLUE", True),
        ("^[^0-9]+$", "BLUE2", False),
        ("^A{2,3}$", "AAA", True),
        ("^A{2,3}$", "AAAA", False),
        ("\\d\\d", "X12", True),  # Perl classes, as in Java
        ("blue", "BLUE", False),  # case matters
    ],
)
def test_regexp(pattern: str, value: str, expected: bool) -> None:
    assert holds(f'TPL.ID regexp "{pattern}"', {"TPL.ID": value}) is expected


def test_regexp_of_a_missing_keyword_or_a_number() -> None:
    assert holds('TPL.ID regexp ".*"', {}) is False
    assert holds('DET.CHIPS regexp "^2$"', {"DET.CHIPS": 2}) is True


def test_a_catastrophic_regexp_answers_at_once() -> None:
    for pattern in ("(a+)+b", "(a|a)*b", "(a*)*b", "(.*a){20}"):
        def search(p: str = pattern) -> bool:
            return holds(f'OBJECT regexp "{p}"', {"OBJECT": "a" * 20_000})

        assert answers_at_once(search) is (pattern == "(.*a){20}")


@pytest.mark.parametrize("pattern", ["[", "(a", "a{2,1}", "(a)\\1", "[[:nonsense:]]"])
def test_an_invalid_regexp_is_a_file_line_col_error(pattern: str) -> None:
    with pytest.raises(RuleSyntaxError) as err:
        parse_rules(f'// first line\nif A == 1 and  B regexp "{pattern}" then {{ X = 1; }}', "r.oca")
    assert str(err.value).startswith("r.oca:2:25: not a POSIX extended regular expression")
    assert "\n" not in str(err.value) and err.value.exit_code == 2


# -- is ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("string", "X", True), ("string", "12", True), ("string", 12, False), ("string", None, False),
        ("number", 12, True), ("number", 1.5, True), ("number", "12", False), ("number", True, False),
        ("number", None, False),
        ("boolean", True, True), ("boolean", False, True), ("boolean", "T", False), ("boolean", 1, False),
        ("defined", "", True), ("defined", 0, True), ("defined", None, False),
        ("undefined", None, True), ("undefined", "X", False),
    ],
)
def test_is(kind: str, value: Any, expected: bool) -> None:
    header = {} if value is None else {"K": value}
    assert holds(f"K is {kind}", header) is expected
    assert holds(f"K is not {kind}", header) is (not expected)


# -- ?= ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("frame_value", "first_value", "expected"),
    [("R", "R", True), ("R", "B", False), (None, "B", True), ("R", None, True), (None, None, True),
     (2, "2", True), (2, 3, False)],
)
def test_optional_equal(frame_value: Any, first_value: Any, expected: bool) -> None:
    this = {} if frame_value is None else {"INS.FILT1.ID": frame_value}
    first = {} if first_value is None else {"INS.FILT1.ID": first_value}
    assert holds("inputFile.INS.FILT1.ID ?= INS.FILT1.ID", this, first) is expected
    assert holds('INS.FILT1.ID ?= "R"', this) is (frame_value in (None, "R"))


# -- not, T/F, truth ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("condition", "frame", "expected"),
    [
        ('not A == "x"', {"A": "x"}, False),
        ('not A == "x"', {}, True),  # a missing keyword made the inner condition false
        ('not A like "x%"', {"A": "xy"}, False),
        ('not A regexp "^x"', {"A": "yx"}, True),
        ("not A is defined", {}, True),
        ("not A ?= B", {"A": 1}, False),
        ('not (A == "x" or B == "y")', {"B": "y"}, False),
        ("not not A == 1", {"A": 1}, True),
        ("not T", {}, False),
        ("not F", {}, True),
        ("not FLAG", {"FLAG": False}, True),
        ('not A == "x" and B == 1', {"B": 1}, True),  # not binds tighter than and
    ],
)
def test_not_before_any_condition(condition: str, frame: dict[str, Any], expected: bool) -> None:
    assert holds(condition, frame) is expected


@pytest.mark.parametrize(
    ("condition", "frame", "expected"),
    [
        ("T", {}, True), ("(T)", {}, True), ("F", {}, False), ("true", {}, True), ("false", {}, False),
        ("FLAG", {"FLAG": True}, True), ("FLAG", {"FLAG": False}, False), ("FLAG", {}, False),
        ("FLAG", {"FLAG": 2}, True), ("FLAG", {"FLAG": 0}, False), ('FLAG', {"FLAG": "T"}, True),
        ("FLAG", {"FLAG": "no"}, False), ("FLAG == T", {"FLAG": True}, True), ("T == 1", {}, True),
        ("FLAG and T", {"FLAG": True}, True), ("F or FLAG", {"FLAG": True}, True),
    ],
)
def test_truth_values(condition: str, frame: dict[str, Any], expected: bool) -> None:
    assert holds(condition, frame) is expected


def test_if_t_then_gives_every_file_a_default() -> None:
    rules = 'if (T) then { REFLEX.CATG = "UNDEFINED"; }\nif DPR.TYPE == "BIAS" then { REFLEX.CATG = "BIAS"; }'
    assert assigned(rules, {}) == {"REFLEX.CATG": "UNDEFINED"}
    assert assigned(rules, {"DPR.TYPE": "BIAS"}) == {"REFLEX.CATG": "BIAS"}
    assert assigned('if F then { A = 1; }', {}) == {}


def test_comparisons_and_like() -> None:
    assert holds('DPR.TYPE like "%FLAT%"', {"DPR.TYPE": "LAMP,FLAT"})
    assert holds('DPR.TYPE like "LAMP_FLAT"', {"DPR.TYPE": "LAMP,FLAT"})
    assert not holds('DPR.TYPE like "WAVE"', {"DPR.TYPE": "WAVE,LAMP"})
    assert not holds('DPR.TYPE like "%flat%"', {"DPR.TYPE": "LAMP,FLAT"})
    assert holds('DET.CHIPS like "2"', {"DET.CHIPS": 2})
    assert not holds('DPR.TYPE != "BIAS"', {})
    assert holds('"1" == 1', {}) and not holds('"one" == 1', {})
    assert holds('INS.MODE < "RED"', {"INS.MODE": "BLUE"})
    assert holds("MJD-OBS >= 56100.0 and MJD-OBS <= 56100.5 and MJD-OBS > 1 and MJD-OBS != 2",
                 {"MJD-OBS": 56100.25})


# -- assignments -------------------------------------------------------------------------------------------
def test_constant_assignments() -> None:
    got = assigned('if T then { A = "x"; B = 3; C = T; D = F; E = ""; }', {})
    assert got == {"A": "x", "B": 3.0, "C": True, "D": False, "E": ""}
    assert isinstance(got["C"], bool)


def test_keyword_assignment_copies_the_value_and_assigns_nothing_when_missing() -> None:
    rules = 'if (T) then { REFLEX.CATG = "UNDEFINED"; }\nif T then { REFLEX.CATG = PRO.CATG; NEXP = TPL.NEXP; }'
    assert assigned(rules, {"PRO.CATG": "MASTER_BIAS", "TPL.NEXP": 5}) == \
        {"REFLEX.CATG": "MASTER_BIAS", "NEXP": 5}
    assert assigned(rules, {}) == {"REFLEX.CATG": "UNDEFINED"}  # the earlier value stays
    assert assigned("if T then { A = inputFile.B; }", {"B": 1}) == {}  # no group in classification


def test_condition_assignment_stores_true_or_false() -> None:
    rules = 'if T then { INS.OPTI1.FILTER = INS.OPTI1.NAME like "Blue%"; BOTH = A == 1 and not B is defined; }'
    assert assigned(rules, {"INS.OPTI1.NAME": "Blue_1", "A": 1}) == {"INS.OPTI1.FILTER": True, "BOTH": True}
    assert assigned(rules, {"INS.OPTI1.NAME": "Red", "A": 1, "B": 0}) == {"INS.OPTI1.FILTER": False,
                                                                          "BOTH": False}
    assert assigned(rules, {}) == {"INS.OPTI1.FILTER": False, "BOTH": False}  # missing: the condition is false
    later = rules + "\nif INS.OPTI1.FILTER is boolean and INS.OPTI1.FILTER then { C = 1; }"
    assert assigned(later, {"INS.OPTI1.NAME": "Blue"})["C"] == 1.0


def test_later_classification_rules_see_earlier_assignments() -> None:
    rules = """
    if DPR.TYPE == "FLAT" then { REFLEX.CATG = "FLAT_RAW"; RAW.TYPE = REFLEX.CATG; }
    if REFLEX.CATG == "FLAT_RAW" then { EXEC.CATG = "CALIB_CHAIN"; }
    if RAW.TYPE like "FLAT%" then { DO.CATG = "FLAT"; }
    """
    assert assigned(rules, {"DPR.TYPE": "FLAT"}) == {"REFLEX.CATG": "FLAT_RAW", "RAW.TYPE": "FLAT_RAW",
                                                     "EXEC.CATG": "CALIB_CHAIN", "DO.CATG": "FLAT"}


def test_organisation_and_association_see_classification_tags() -> None:
    text = """
    if DPR.TYPE == "FLAT" then { REFLEX.CATG = "FLAT_RAW"; }
    if DPR.TYPE == "LAMP" then { REFLEX.CATG = "ARC_RAW"; }
    if PRO.CATG == "MFLAT" then { REFLEX.CATG = "MASTER_FLAT"; }
    select execute(ARC) from inputFiles where REFLEX.CATG == "ARC_RAW";
    action ARC { select file as FLAT from calibFiles where REFLEX.CATG == "MASTER_FLAT"; recipe arc; }
    """
    result = run(text, [frame("arc.fits", 1.0, "LAMP"), frame("flat.fits", 1.1, "FLAT")],
                 (("mflat.fits", {"PRO.CATG": "MFLAT", "MJD-OBS": 0.9}),))
    ab = by_action(result)["ARC"]
    assert [r.ref for r in ab.rawfiles] == [f"$DFO_RAW_DIR/{DATE}/arc.fits"]
    assert [(c.tag, c.ref) for c in ab.mcalib] == [("FLAT", "$DFO_CAL_DIR/MCAL/mflat.fits")]
    assert [o.frame.name for o in result.orphans] == ["flat.fits"]


# -- organisation ------------------------------------------------------------------------------------------
GROUPING = """
if DPR.TYPE == "FLAT" then { DO.CATG = "FLAT"; }
select execute(PLAIN) from inputFiles where DO.CATG == "FLAT" group by INS.MODE;
select execute(EVENT) from inputFiles where DO.CATG == "FLAT" group by INS.MODE as (TPL_D, grp);
select execute(NAMED) from inputFiles where DO.CATG == "FLAT" as (MY_EVENT, "night");
action PLAIN { recipe r; }  action EVENT { recipe r; }  action NAMED { recipe r; }
"""


def test_group_by_with_and_without_as() -> None:
    frames = [frame("a.fits", 1.0, "FLAT", **{"INS.MODE": "RED"}), frame("b.fits", 1.1, "FLAT", **{"INS.MODE": "BLUE"}),
              frame("c.fits", 1.2, "FLAT", **{"INS.MODE": "RED"})]
    rules = parse_rules(GROUPING, "g.oca")
    groups = organise([Classifier(rules.classify).classify(f) for f in frames], rules.organise)
    seen = sorted((g.action, g.event, g.tag, [f.name for f in g.frames]) for g in groups.groups)
    assert seen == [
        ("EVENT", "TPL_D", "grp", ["a.fits", "c.fits"]),
        ("EVENT", "TPL_D", "grp", ["b.fits"]),
        ("NAMED", "MY_EVENT", "night", ["a.fits", "b.fits", "c.fits"]),
        ("PLAIN", "PLAIN", "frm", ["a.fits", "c.fits"]),
        ("PLAIN", "PLAIN", "frm", ["b.fits"]),
    ]
    names = {p.ab.name: p.ab.event for p in run(GROUPING, frames).abs}
    assert names == {"a_grp.ab": "TPL_D", "b_grp.ab": "TPL_D", "a_night.ab": "MY_EVENT",
                     "a_frm.ab": "PLAIN", "b_frm.ab": "PLAIN"}


def test_top_level_minret_above_maxret_takes_the_frames_required() -> None:
    text = """
    if DPR.TYPE == "FLAT" then { DO.CATG = "FLAT"; }
    minRet = 2; maxRet = 1;
    select execute(FLAT) from inputFiles where DO.CATG == "FLAT";
    action FLAT { recipe r; }
    """
    rules = parse_rules(text)
    assert (rules.organise[0].min_frames, rules.organise[0].max_frames) == (2, 2)
    result = run(text, [frame(f"f{i}.fits", 1.0 + i / 10, "FLAT") for i in range(3)])
    ab = by_action(result)["FLAT"]
    assert ab.completeness.value == "COMPLETE" and len(ab.rawfiles) == 2
    assert [o.frame.name for o in result.orphans] == ["f2.fits"]
    short = run(text, [frame("f0.fits", 1.0, "FLAT")])
    assert by_action(short)["FLAT"].missing == ("1 frame(s), the rules ask for at least 2",)


# -- association: pools, minRet/maxRet -----------------------------------------------------------------------
POOLS = """
if DPR.TYPE == "OBJECT" then { DO.CATG = "OBJECT"; }
if DPR.TYPE == "SKY" then { DO.CATG = "SKY"; }
if DPR.TYPE == "ACQ" then { DO.CATG = "ACQ"; }
select execute(SCI) from inputFiles where DO.CATG == "OBJECT";
action SCI {
  select file as SKY from inputFiles where DO.CATG == "SKY" and inputFile.OBS.ID == OBS.ID;
  select file as LINES from inputFiles where PRO.CATG == "LINE_CATALOG";
  select file as ACQ from rawFiles where DO.CATG == "ACQ";
  minRet = 0;
  select file as NO_RAW_HERE from calibFiles where DO.CATG == "ACQ";
  recipe sci;
}
"""


def test_select_from_input_files_and_raw_files() -> None:
    frames = [frame("obj.fits", 1.0, "OBJECT", **{"OBS.ID": 7}), frame("sky.fits", 1.01, "SKY", **{"OBS.ID": 7}),
              frame("acq.fits", 0.99, "ACQ")]
    result = run(POOLS, frames, (("lines.fits", {"PRO.CATG": "LINE_CATALOG", "MJD-OBS": 0.5}),))
    ab = by_action(result)["SCI"]
    assert ab.completeness.value == "COMPLETE"
    assert [(c.tag, c.ref) for c in ab.massoc] == [("SKY", f"$DFO_RAW_DIR/{DATE}/sky.fits"),
                                                   ("ACQ", f"$DFO_RAW_DIR/{DATE}/acq.fits")]
    assert [(c.tag, c.ref) for c in ab.mcalib] == [("LINES", "$DFO_CAL_DIR/MCAL/lines.fits")]
    other_obs = run(POOLS, [frames[0], frame("sky.fits", 1.01, "SKY", **{"OBS.ID": 8}), frames[2]],
                    (("lines.fits", {"PRO.CATG": "LINE_CATALOG", "MJD-OBS": 0.5}),))
    assert by_action(other_obs)["SCI"].completeness.value == "INCOMPLETE"


@pytest.mark.parametrize(
    ("counts", "available", "taken", "complete"),
    [
        ("", 2, 1, True),  # defaults 1 and 1
        ("minRet = 0; maxRet = 1;", 0, 0, True),  # optional
        ("minRet = 2; maxRet = 3;", 2, 2, True),
        ("minRet = 2; maxRet = 3;", 1, 1, False),
        ("minRet = 0; maxRet = 0;", 3, 0, True),  # switched off
        ("minRet = 2; maxRet = 1;", 3, 2, True),  # minRet above maxRet: the required count is taken
        ("maxRet = 0; minRet = 1;", 3, 1, True),  # ESO MUSE's order
        ("maxRet = 0;", 3, 1, True),  # a lone maxRet = 0 under the default minRet = 1 still takes one
    ],
)
def test_minret_and_maxret(counts: str, available: int, taken: int, complete: bool) -> None:
    text = f"""
    if DPR.TYPE == "OBJECT" then {{ DO.CATG = "OBJECT"; }}
    select execute(SCI) from inputFiles where DO.CATG == "OBJECT";
    action SCI {{ {counts} select file as FLAT from calibFiles where PRO.CATG == "FLAT"; recipe sci; }}
    """
    memory = tuple((f"flat{i}.fits", {"PRO.CATG": "FLAT", "MJD-OBS": 1.0 - i / 10}) for i in range(available))
    ab = by_action(run(text, [frame("obj.fits", 1.0, "OBJECT")], memory))["SCI"]
    assert len(ab.mcalib) == taken
    assert (ab.completeness.value == "COMPLETE") is complete


def test_minret_and_maxret_hold_until_set_again() -> None:
    action = parse_rules("""action A { minRet = 0; maxRet = 3;
        select file as B from calibFiles where X == 1; select file as C from calibFiles where X == 2;
        maxRet = 1; select file as D from calibFiles where X == 3; }""").actions["A"]
    assert [(s.tag, s.min_ret, s.max_ret) for s in action.selects] == [("B", 0, 3), ("C", 0, 3), ("D", 0, 1)]


# -- recipe, settings, products -------------------------------------------------------------------------------
def test_recipe_blocks_and_parameter_strings() -> None:
    rules = parse_rules("""
    action EMPTY { recipe r_empty { } }
    action NONE { recipe r_none; }
    action MULTI { recipe r_multi { "--nifu=-1 --merge"; "--title='a b'", "--x=1" } ; }
    """)
    assert (rules.actions["EMPTY"].recipe, rules.actions["EMPTY"].params) == ("r_empty", ())
    assert rules.actions["NONE"].params == ()
    assert rules.actions["MULTI"].params == ("--nifu=-1", "--merge", "--title=a b", "--x=1")
    with pytest.raises(RuleSyntaxError, match=r"^t.oca:1:23: recipe parameter"):
        parse_rules("action A { recipe r { \"--t='open\" } }", "t.oca")


def test_priority_is_parsed() -> None:
    rules = parse_rules("action A { priority = 30; recipe a; }\naction B { recipe b; }\n"
                        "action C { Priority = 2.5; LABEL = \"x\"; }")
    assert rules.actions["A"].priority == 30.0 and rules.actions["B"].priority == 0.0
    assert rules.actions["C"].priority == 2.5
    assert rules.actions["C"].properties == (("PRIORITY", Literal(2.5)), ("LABEL", Literal("x")))


PRODUCTS = """
if (T) then { REFLEX.CATG = "UNDEFINED"; }
if PRO.CATG is string then { REFLEX.CATG = PRO.CATG; }
if DPR.TYPE == "FLAT" then { REFLEX.CATG = "FLAT_RAW"; }
if DPR.TYPE == "OBJECT" then { REFLEX.CATG = "OBJECT_RAW"; }
select execute(FLAT) from inputFiles where REFLEX.CATG == "FLAT_RAW";
select execute(SCI) from inputFiles where REFLEX.CATG == "OBJECT_RAW";
action FLAT {
  product MFLAT { PRO.CATG = "MASTER_FLAT_TOY"; PRO.EXT = "flat.fits"; REFLEX.CATG = "MASTER_FLAT";
                  FLAT.MODE = INS.MODE; FLAT.BLUE = INS.MODE like "B%"; FLAT.NONE = NOT.THERE; };
  product NORM;
  product STATS, QC_TABLE;
  recipe flat;
}
action SCI {
  select file as MASTER_FLAT from calibFiles where REFLEX.CATG == "MASTER_FLAT" and inputFile.INS.MODE == FLAT.MODE;
  select file as NORM from calibFiles where REFLEX.CATG == "NORM";
  recipe sci;
}
"""


def test_product_blocks_give_virtual_products_their_keywords() -> None:
    frames = [frame("flat.fits", 1.0, "FLAT", **{"INS.MODE": "BLUE"}),
              frame("obj.fits", 1.1, "OBJECT", **{"INS.MODE": "BLUE"})]
    result = run(PRODUCTS, frames)
    rules = parse_rules(PRODUCTS)
    assert [p.catg for p in rules.actions["FLAT"].products] == ["MASTER_FLAT_TOY", "NORM", "STATS", "QC_TABLE"]
    assert rules.counts.products == 4
    (first, *others) = result.vcals
    assert first.frame.get("PRO.CATG") == "MASTER_FLAT_TOY" and first.frame.get("PRO.EXT") == "flat.fits"
    # the block's REFLEX.CATG wins over "if (T)" and "REFLEX.CATG = PRO.CATG"
    assert first.frame.get("REFLEX.CATG") == "MASTER_FLAT"
    assert (first.frame.get("FLAT.MODE"), first.frame.get("FLAT.BLUE")) == ("BLUE", True)
    assert "FLAT.NONE" not in first.frame.view  # a keyword-valued one copies nothing when missing
    assert [o.frame.get("REFLEX.CATG") for o in others] == ["NORM", "STATS", "QC_TABLE"]
    flat, sci = by_action(result)["FLAT"], by_action(result)["SCI"]
    assert [p.catg for p in flat.products] == ["MASTER_FLAT_TOY", "NORM", "STATS", "QC_TABLE"]
    assert sci.completeness.value == "COMPLETE" and sci.waitfor == (flat.name,)
    assert [(c.tag, c.ref.rsplit("/", 1)[1], c.virtual) for c in sci.mcalib] == [
        ("MASTER_FLAT", "r.flat_frm_0000.hdr", True), ("NORM", "r.flat_frm_0001.hdr", True)]
    red = run(PRODUCTS, [frames[0], frame("obj.fits", 1.1, "OBJECT", **{"INS.MODE": "RED"})])
    assert by_action(red)["SCI"].completeness.value == "INCOMPLETE"


# -- comments and layout ---------------------------------------------------------------------------------------
def test_comments_in_odd_places() -> None:
    text = """/* ###################
       # banner with # signs  #
       ##################### */
    /// a triple-slash comment
    if DPR.CATG == "CALIB"   // trailing a condition line
       and ( DPR.TYPE == "FLAT"
       //  or DPR.TYPE == "SKY"     (commented-out alternative)
             or DPR.TYPE /* inline */ == "LAMP" )
    then // between then and the block
    { DO.CATG = "FLAT"; /* after a statement */ NOTE = "a//b"; } // after the block
    select execute(F) from inputFiles where DO.CATG == "FLAT" // before the semicolon
    ;
    action F { recipe /* here */ f; }  /* trailing */"""
    rules = parse_rules(text, "c.oca")
    assert rules.counts == Counts(classify=1, organise=1, actions=1)
    assert assigned(text, {"DPR.CATG": "CALIB", "DPR.TYPE": "LAMP"}) == {"DO.CATG": "FLAT", "NOTE": "a//b"}
    assert assigned(text, {"DPR.CATG": "CALIB", "DPR.TYPE": "SKY"}) == {}
    assert rules.actions["F"].recipe == "f"


def test_reserved_words_and_case() -> None:
    assert holds('dpr.type == "X" AND NOT Dpr.Catg == "Y"', {"DPR.TYPE": "X"})
    assert holds("LF.DO.CATG == 1", {"DO.CATG": 1})
    with pytest.raises(RuleSyntaxError, match="a keyword, string or number"):
        parse_rules("if like == 1 then { X = 1; }")


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("#include <uves.h>", "1:1", "unexpected character"),
        ('if A is odd then { }', "1:9", "expected string, number, boolean, defined or undefined"),
        ('if A regexp B then { }', "1:13", 'expected a "pattern" string'),
        ("action A { 42; }", "1:12", "a setting or '}'"),
        ("action A { minRet = 1.5; }", "1:21", "a whole number >= 0"),
        ("select execute(A) from rawFiles where X == 1;", "1:24", "'inputFiles'"),
        ('action A { product P { PRO.CATG = "X" }', "1:40", "end of file"),
    ],
)
def test_errors(text: str, where: str, message: str) -> None:
    with pytest.raises(RuleSyntaxError) as err:
        parse_rules(text, "e.oca")
    assert str(err.value).startswith(f"e.oca:{where}: ") and message in str(err.value)
    assert re.fullmatch(r"e\.oca:\d+:\d+: [^\n]+", str(err.value))


# -- the documentation's example and the Reflex-style file ---------------------------------------------------------
def test_the_example_in_the_documentation_parses() -> None:
    doc = (ROOT / "docs/oca.md").read_text()
    example = doc.split("## A complete example", 1)[1].split("```", 2)[1]
    rules = parse_rules(example, "docs/oca.md")
    assert rules.counts == Counts(classify=4, organise=2, actions=2, selects=3, products=1)
    assert rules.organise[1].min_frames == 1 and rules.organise[1].max_frames == 5


def reflex_night() -> tuple[list[Frame], tuple[tuple[str, dict[str, Any]], ...]]:
    def toy(name: str, mjd: float, kind: str, *, catg: Any = "CALIB", **extra: Any) -> Frame:
        return frame(name, mjd, kind, catg=catg, **{"DET.BINX": 1, **extra})

    frames = [toy("bias1.fits", 1.00, "BIAS"), toy("bias2.fits", 1.01, "BIAS"),
              *[toy(f"flatb{i}.fits", 1.1 + i / 100, "LAMP,FLAT", **{"INS.FILT1.NAME": "B2"}) for i in range(3)],
              toy("flatr.fits", 1.2, "LAMP,FLAT", **{"INS.FILT1.NAME": "R1", "INS.FILT1.NUM": 4}),
              toy("acq.fits", 1.29, "OBJECT,ACQ", catg="ACQUISITION", **{"OBS.ID": 100}),
              toy("std.fits", 1.3, "STD", **{"INS.FILT1.NAME": "B2", "OBS.ID": 100, "INS.SHUT": False}),
              toy("sky.fits", 1.31, "SKY", **{"OBS.ID": 100})]
    return frames, (("catalog.fits", {"PRO.CATG": "LINE_CATALOG", "MJD-OBS": 0.5}),)


def test_reflex_style_file_parses_with_its_counts() -> None:
    rules = parse_rules(REFLEX_STYLE.read_text(), str(REFLEX_STYLE))
    assert rules.counts == Counts(classify=13, organise=3, actions=3, selects=6, products=4)
    assert {n: a.priority for n, a in rules.actions.items()} == {"BIAS": 30.0, "FLAT": 20.0, "STD": 0.0}
    assert [(s.tag, s.pool, s.min_ret, s.max_ret) for s in rules.actions["STD"].selects] == [
        ("MASTER_FLAT", "calibFiles", 1, 1), ("LINE_CATALOG", "inputFiles", 1, 1), ("SKY", "inputFiles", 1, 1),
        ("ACQUISITION", "rawFiles", 0, 1)]
    assert rules.actions["FLAT"].params == ("--stack=median", "--kappa=3", "--title=blue flat")


def test_reflex_style_file_classifies() -> None:
    rules = parse_rules(REFLEX_STYLE.read_text(), str(REFLEX_STYLE))
    classifier = Classifier(rules.classify)
    frames, _ = reflex_night()
    got = {f.name: classifier.assign(f.header) for f in frames}
    assert got["bias1.fits"] == {"REFLEX.CATG": "BIAS_RAW", "RAW.TYPE": "BIAS", "EXEC.CATG": "CALIB_CHAIN",
                                 "HAS.TARGET": False}
    assert got["flatb0.fits"]["BLUE"] is True and "NFILT" not in got["flatb0.fits"]
    assert got["flatr.fits"]["BLUE"] is False and got["flatr.fits"]["NFILT"] == 4
    assert got["std.fits"] == {"REFLEX.CATG": "STD_RAW", "REFLEX.TARGET": "T", "BLUE": True,
                               "EXEC.CATG": "TARGET", "DARK.LIKE": True, "HAS.TARGET": False}
    assert got["sky.fits"]["REFLEX.CATG"] == "SKY_RAW" and got["acq.fits"]["REFLEX.CATG"] == "ACQ_RAW"
    assert classifier.assign({"PRO.CATG": "MASTER_X"})["REFLEX.CATG"] == "MASTER_X"
    assert classifier.assign({"OBS.TARG.NAME": "x"}) == {"REFLEX.CATG": "UNKNOWN_RAW"}


def test_reflex_style_file_organises_and_associates() -> None:
    frames, memory = reflex_night()
    result = run(REFLEX_STYLE.read_text(), frames, memory)
    abs_ = by_action(result)
    assert {a.name: (a.event, a.completeness.value) for a in abs_.values()} == {
        "bias1_frm.ab": ("BIAS", "COMPLETE"), "flatb0_grp.ab": ("TPL_D", "COMPLETE"),
        "std_tpl.ab": ("TPL_A", "COMPLETE")}
    bias, flat, std = abs_["BIAS"], abs_["FLAT"], abs_["STD"]
    assert [r.ref.rsplit("/", 1)[1] for r in bias.rawfiles] == ["bias1.fits", "bias2.fits"]
    assert [r.ref.rsplit("/", 1)[1] for r in flat.rawfiles] == ["flatb0.fits", "flatb1.fits"]  # minRet 2 taken
    assert [(c.tag, c.ref.rsplit("/", 1)[1]) for c in flat.mcalib] == [("MASTER_BIAS", "r.bias1_frm_0000.hdr")]
    assert flat.params == ("--stack=median", "--kappa=3", "--title=blue flat")
    assert [p.catg for p in flat.products] == ["MASTER_FLAT_TOY", "NORM_FLAT", "FLAT_STATS"]
    assert [(c.tag, c.ref.rsplit("/", 1)[1]) for c in std.mcalib] == [("MASTER_FLAT", "r.flatb0_grp_0000.hdr"),
                                                                       ("LINE_CATALOG", "catalog.fits")]
    assert [(c.tag, c.ref.rsplit("/", 1)[1]) for c in std.massoc] == [("SKY", "sky.fits"),
                                                                       ("ACQUISITION", "acq.fits")]
    assert std.waitfor == (flat.name,) and flat.waitfor == (bias.name,)
    assert [p.ab.action for p in result.abs] == ["BIAS", "FLAT", "STD"]
    orphans = {o.frame.name: o.reason for o in result.orphans}
    assert orphans == {
        "flatr.fits": "classified REFLEX.CATG=FLAT_RAW, but no organisation rule selects it",
        "acq.fits": "classified REFLEX.CATG=ACQ_RAW, but no organisation rule selects it",
        "sky.fits": "classified REFLEX.CATG=SKY_RAW, but no organisation rule selects it",
        "flatb2.fits": "left out of flatb0_grp.ab: its rule takes at most 2 frames"}


def test_evaluation_never_raises_on_awkward_values() -> None:
    # an integer beyond a float's range made comparisons raise OverflowError, one beyond 4300 digits regexp
    assert holds("A > 1", {"A": 10**400}) and holds("A < 1", {"A": -(10**400)})
    assert not holds('A == "x"', {"A": 10**400})
    assert holds('A regexp "1"', {"A": 10**400}) and not holds('A regexp "1"', {"A": 10**5000})
    assert not holds('A like "1%"', {"A": 10**5000})
