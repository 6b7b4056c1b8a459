"""The campaign planner (dfos.association.campaign): after a recipe parameter change only that recipe's ABs and
their descendants (across modes: the science using those flats) get new keys, and the incremental re-plan
gives the keys a plan from scratch gives."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from dfos.ab.content import descendants
from dfos.association.campaign import params_only, plan_campaign, replan
from dfos.association.classify import Classifier
from dfos.steps.create_ab import rules_of
from dfos.synth.campaign import campaign_masters, campaign_nights
from dfos.workspace import init_workspace, open_workspace

TWFLAT = "action naco_img_twflat { product MASTER_IMG_FLAT; }"
TWFLAT_PROP = 'action naco_img_twflat { recipe naco_img_twflat { "--prop=TRUE" }; product MASTER_IMG_FLAT; }'


def test_a_parameter_change_rekeys_that_recipes_abs_and_their_descendants_only(tmp_path: Path) -> None:
    init_workspace(tmp_path / "ws", env={}, instrument="NACO")
    ws = open_workspace(tmp_path / "ws", env={})
    first = date(2013, 1, 1)
    pool = campaign_nights("NACO", first, 4, 60)
    calibs = campaign_masters("NACO", first, Classifier(rules_of(ws).classify))
    plan = plan_campaign(pool, rules_of(ws), calibs, instrument="NACO", pipeline="naco-4.4.11", vcal_dates=3)
    assert plan.abs and all(plan.keys.values()) and len(set(plan.keys.values())) == len(plan.abs)
    product_map = ws.root / "config" / "naco.products.oca"
    assert TWFLAT in product_map.read_text()
    product_map.write_text(product_map.read_text().replace(TWFLAT, TWFLAT_PROP))  # naco_img_twflat gets a parameter
    rules = rules_of(ws)
    assert params_only(plan.rules, rules) == {"naco_img_twflat"}
    again, changed = replan(plan, rules, pool, calibs, instrument="NACO", vcal_dates=3)

    flats = {name for name, ab in plan.abs.items() if ab.recipe == "naco_img_twflat"}
    assert flats and changed == flats | descendants(plan.abs.values(), flats)
    science = {name for name in changed if plan.abs[name].batch_id.startswith("SCIENCE_")}
    assert science and {again.abs[n].recipe for n in science} == {"naco_img_jitter"}
    assert all(again.abs[n].params == ("--prop=TRUE",) for n in flats)
    assert all(again.abs[n] == plan.abs[n] for n in plan.abs if n not in changed)
    assert again.keys == plan_campaign(pool, rules, calibs, instrument="NACO", pipeline="naco-4.4.11",
                                       vcal_dates=3).keys  # incremental = from scratch

    # a change beyond parameters (an action's products) is associated anew; declared products are not what the
    # recipe call is made of: no key changes
    product_map.write_text(product_map.read_text().replace("product MASTER_IMG_FLAT;",
                                                           "product MASTER_IMG_FLAT, MASTER_IMG_FLAT_BADPIX;"))
    assert params_only(rules, rules_of(ws)) is None
    third, changed = replan(again, rules_of(ws), pool, calibs, instrument="NACO", vcal_dates=3)
    assert not changed and all(len(third.abs[n].products) == 2 for n in flats)
