"""createAB on rules whose actions declare no products: the missing input says the cascade stops there."""

from __future__ import annotations

from typing import Any

from dfos.association.engine import Producers, associate
from dfos.association.frames import Frame
from dfos.instruments.registry import get_instrument
from dfos.oca.io import load_rules
from dfos.oca.parser import parse_rules

RULES = """
if DPR.TYPE == "BIAS" then { DO.CATG = "BIAS"; }
if DPR.TYPE == "DARK" then { DO.CATG = "DARK"; }
select execute(MAKE_BIAS) from inputFiles where SIG.FRAME == 1 and DO.CATG == "BIAS";
select execute(MAKE_DARK) from inputFiles where SIG.FRAME == 1 and DO.CATG == "DARK";
action MAKE_BIAS { recipe make_bias; }
action MAKE_DARK { select file as MASTER_BIAS from calibFiles where DO.CATG == "MASTER_BIAS"; recipe make_dark; }
"""


def frame(name: str, mjd: float, kind: str) -> Frame:
    return Frame(name, {"DPR.CATG": "CALIB", "DPR.TYPE": kind, "MJD-OBS": mjd, "EXPTIME": 0.0})


def run(rules_text: str) -> dict[str, Any]:
    result = associate([frame("b.fits", 1.0, "BIAS"), frame("d.fits", 1.1, "DARK")], parse_rules(rules_text), [],
                       instrument="X", date="2013-02-12")
    return {p.ab.name: p.ab for p in result.abs}


def test_without_a_product_map_the_dark_says_the_cascade_stops_at_the_bias() -> None:
    abs_ = run(RULES)
    assert abs_["b_frm.ab"].completeness.value == "COMPLETE"
    dark = abs_["d_frm.ab"]
    assert dark.completeness.value == "INCOMPLETE"
    (reason,) = dark.missing
    assert reason.startswith("MASTER_BIAS: 0 of 1 required found; looked for ")
    assert "no action of the rules declares a product MASTER_BIAS, so no AB makes one: the cascade stops" in reason
    assert "2 action(s) with a recipe declare no products (MAKE_BIAS, MAKE_DARK)" in reason


def test_with_a_product_map_the_cascade_links_and_no_note_is_given() -> None:
    abs_ = run(RULES + 'action MAKE_BIAS { product MASTER_BIAS; }\nif PRO.CATG == "MASTER_BIAS" then '
               '{ DO.CATG = "MASTER_BIAS"; }\n')
    assert abs_["d_frm.ab"].completeness.value == "COMPLETE"
    assert abs_["d_frm.ab"].waitfor == ("b_frm.ab",)


def test_a_missing_input_some_action_declares_gets_no_note() -> None:
    rules = parse_rules(RULES + "action MAKE_DARK { product MASTER_DARK; }\naction OTHER { product MASTER_BIAS; }")
    select = rules.actions["MAKE_DARK"].selects[0]
    assert Producers.of(rules).stops(select) is None


def test_muse_on_esos_rules_alone_stops_at_master_bias_and_the_product_map_links_it() -> None:
    muse = get_instrument("MUSE")
    alone = load_rules(muse.oca_files())
    select = next(s for s in alone.actions["muse_dark"].selects if s.tag == "MASTER_BIAS")
    note = Producers.of(alone).stops(select)
    assert note is not None and "muse_ampl, muse_astrometry, muse_bias, muse_create_sky and 11 more" in note
    assert Producers.of(load_rules(muse.rules_files())).stops(select) is None


def test_an_ab_whose_recipe_is_not_installed_is_incomplete_and_its_children_look_elsewhere() -> None:
    rules = parse_rules(RULES + "action MAKE_BIAS { product MASTER_BIAS; }")
    frames = [frame("b.fits", 1.0, "BIAS"), frame("d.fits", 1.1, "DARK")]

    def abs_of(recipes: frozenset[str] | None) -> dict[str, Any]:
        result = associate(frames, rules, [], instrument="X", date="2013-02-12", recipes=recipes)
        return {p.ab.name: p.ab for p in result.abs}

    linked = abs_of(None)  # recipes unknown: nothing is checked, the dark waits for the bias
    assert linked["d_frm.ab"].waitfor == ("b_frm.ab",) and linked["d_frm.ab"].completeness.value == "COMPLETE"
    installed = abs_of(frozenset({"make_bias", "make_dark"}))
    assert [ab.completeness.value for ab in installed.values()] == ["COMPLETE", "COMPLETE"]
    lacking = abs_of(frozenset({"make_dark"}))
    assert lacking["b_frm.ab"].missing == ("recipe make_bias is not installed: esorex --recipes does not list it "
                                           "(dfos instruments shows what each pipeline lacks)",)
    dark = lacking["d_frm.ab"]  # the bias will never be made: the dark does not wait for it
    assert dark.completeness.value == "INCOMPLETE" and dark.waitfor == ()
