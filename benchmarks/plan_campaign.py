"""Planning a one-year NACO campaign: 365 synthetic nights (about 100,000 frames), both modes of every date
associated as createAB associates them, every AB with its content key; then the re-plan after one recipe
parameter change in the workspace's product map (naco_img_twflat given ``--prop=TRUE``).

The plan is :func:`dfos.association.campaign.plan_campaign` (in memory: the frames as createAB reads them
from their headers, the rules as the workspace configures them).  The re-plan is incremental: the new rules
differ from the old ones in one action's parameters only, so nothing is associated again; the ABs of that
action take the parameters and only their keys and their descendants' keys are computed again
(:func:`dfos.association.campaign.replan`).  Limits: plan 60 s, re-plan 10 s.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

from dfos.association.campaign import plan_campaign, replan
from dfos.association.classify import Classifier
from dfos.steps.content_keys import installed_pipeline
from dfos.steps.create_ab import rules_of
from dfos.synth.campaign import campaign_masters, campaign_nights
from dfos.workspace import Workspace, init_workspace, open_workspace

FIRST = date(2013, 1, 1)
NIGHTS = 365
FRAMES_PER_NIGHT = 274  # 100,010 frames in a year
PLAN_LIMIT, REPLAN_LIMIT = 60.0, 10.0
TWFLAT = "action naco_img_twflat { product MASTER_IMG_FLAT; }"
TWFLAT_PROP = 'action naco_img_twflat { recipe naco_img_twflat { "--prop=TRUE" }; product MASTER_IMG_FLAT; }'


def workspace(root: Path) -> Workspace:
    init_workspace(root, env={}, instrument="NACO")
    return open_workspace(root, env={})


def set_twflat_param(ws: Workspace) -> None:
    """Give naco_img_twflat a parameter in the workspace's product map."""
    product_map = ws.root / "config" / "naco.products.oca"
    text = product_map.read_text()
    assert TWFLAT in text, product_map
    product_map.write_text(text.replace(TWFLAT, TWFLAT_PROP))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = workspace(Path(tmp) / "ws")
        pool = campaign_nights("NACO", FIRST, NIGHTS, FRAMES_PER_NIGHT)
        calibs = campaign_masters("NACO", FIRST, Classifier(rules_of(ws).classify))
        n_frames = sum(len(f) for f in pool.values())
        options = {"instrument": "NACO", "vcal_dates": ws.settings.N_VCAL_LIST}
        start = time.perf_counter()
        plan = plan_campaign(pool, rules_of(ws), calibs, pipeline=installed_pipeline(ws.instrument.pipeline),
                             **options)  # type: ignore[arg-type]
        planned = time.perf_counter() - start
        modes = Counter(ab.batch_id.split("_")[0] for ab in plan.abs.values())
        keyed = sum(1 for ab in plan.abs.values() if ab.content_key)
        print(f"{'plan: one NACO year, ' + f'{NIGHTS} nights, {n_frames:,} frames':<58} {planned:8.3f} s  "
              f"({len(plan.abs):,} ABs: {modes['CALIB']:,} CALIB, {modes['SCIENCE']:,} SCIENCE; {keyed:,} keyed)")
        set_twflat_param(ws)
        start = time.perf_counter()
        again, changed = replan(plan, rules_of(ws), pool, calibs, **options)
        replanned = time.perf_counter() - start
        kinds = Counter(again.abs[name].recipe for name in changed)
        print(f"{'re-plan: naco_img_twflat given --prop=TRUE (incremental)':<58} {replanned:8.3f} s  "
              f"({len(changed):,} ABs with a new key: " + ", ".join(f"{n:,} {r}" for r, n in kinds.most_common()) + ")")
        assert planned <= PLAN_LIMIT, f"planning took {planned:.1f} s, more than {PLAN_LIMIT:g} s"
        assert replanned <= REPLAN_LIMIT, f"re-planning took {replanned:.1f} s, more than {REPLAN_LIMIT:g} s"


if __name__ == "__main__":
    main()
