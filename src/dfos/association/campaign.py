"""A campaign's plan in memory: every date's ABs of both modes, associated as createAB associates them, with
their content keys; and the incremental re-plan after a change of the rules.

A reprocessing campaign (phoenix) covers months of archived nights: the calibrations a date needs lie on the
dates around it and are shared between neighbouring dates.  :func:`plan_campaign` associates each date in
turn, CALIB then SCIENCE, with a calibration memory of the campaign's certified masters plus the virtual
products of the newest ``vcal_dates`` dates up to it (as createAB's ``N_VCAL_LIST``), then keys every AB
parents first (:mod:`dfos.ab.content`): the same key is the same recipe call, whichever date asked for it.

:func:`replan` takes a new rule set.  When it differs from the old one only in recipe parameters (what an
edited product map gives an action), no group and no association can change: only the ABs of the changed
actions take the new parameters, and only their keys and their descendants' keys (the ABs reading their
virtual products, across modes and dates, found through the producers' index) are computed again; every
other key is kept.  Any other change (classification, organisation, selection, products) is planned anew.

File inputs other than raw frames and virtual products are known here by name (``name:<file>``): the plan
reads no file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from dfos.ab.content import descendants, keys_in_order
from dfos.ab.model import AB
from dfos.association.classify import Classifier
from dfos.association.engine import associate
from dfos.association.frames import Frame
from dfos.association.match import Calib
from dfos.keys import Mode
from dfos.oca.syntax import Action, RuleSet, Source

__all__ = ["CampaignPlan", "params_only", "plan_campaign", "replan"]


@dataclass(frozen=True)
class CampaignPlan:
    """Every AB of a campaign, both modes, with its content key."""

    rules: RuleSet
    pipeline: str
    abs: Mapping[str, AB]
    """AB name -> AB (with its CONTENT_KEY), dates ascending, CALIB before SCIENCE within a date."""

    @property
    def keys(self) -> dict[str, str | None]:
        return {name: ab.content_key for name, ab in self.abs.items()}


def _name_identity(path: str) -> str:
    return "name:" + path.rsplit("/", 1)[-1]


def plan_campaign(nights: Mapping[date, Sequence[Frame]], rules: RuleSet, masters: Sequence[Calib], *,
                  instrument: str, pipeline: str, vcal_dates: int = 3,
                  recipes: frozenset[str] | None = None) -> CampaignPlan:
    """The plan of ``nights`` (date -> its raw frames); ``masters`` the certified masters and static
    calibrations offered to every date; ``pipeline`` the recipes' pipeline and version (``naco-4.4.11``)."""
    classifier = Classifier(rules.classify)
    made: dict[str, AB] = {}
    recent: list[tuple[Calib, ...]] = []
    for day in sorted(nights):
        frames = [classifier.classify(f) for f in nights[day]]
        for mode in (Mode.CALIB, Mode.SCIENCE):
            memory = [*masters, *(c for vcals in recent for c in vcals)]
            result = associate(frames, rules, memory, instrument=instrument, date=day.isoformat(), mode=mode,
                               classifier=classifier, recipes=recipes)
            made.update((p.ab.name, p.ab) for p in result.abs)
            if mode is Mode.CALIB:
                recent = [*recent, result.vcals][-vcal_dates:]
    keys = keys_in_order(list(made.values()), lambda _recipe: pipeline, lambda _name: None, _name_identity)
    return CampaignPlan(rules, pipeline, {name: replace(ab, content_key=keys[name]) for name, ab in made.items()})


_NOWHERE = Source("<rules>", 0, 0)


def _unplaced(items: Sequence[Any]) -> list[Any]:
    """Rules without the places they were read from (an edit elsewhere in a file moves them)."""
    return [replace(item, source=_NOWHERE) for item in items]


def _shape(action: Action) -> Action:
    """An action without its parameters and the places it was read from: what decides association."""
    return replace(action, params=(), source=_NOWHERE, selects=tuple(_unplaced(action.selects)))


def params_only(old: RuleSet, new: RuleSet) -> set[str] | None:
    """The actions whose recipe parameters differ when that is all that differs between two rule sets, else
    None (another change: the campaign must be associated anew)."""
    if (_unplaced(old.classify) != _unplaced(new.classify) or _unplaced(old.organise) != _unplaced(new.organise)
            or old.actions.keys() != new.actions.keys()):
        return None
    changed = set()
    for name, action in old.actions.items():
        other = new.actions[name]
        if _shape(action) != _shape(other):
            return None
        if action.params != other.params:
            changed.add(name)
    return changed


def replan(plan: CampaignPlan, rules: RuleSet, nights: Mapping[date, Sequence[Frame]], masters: Sequence[Calib],
           **options: object) -> tuple[CampaignPlan, set[str]]:
    """The plan under new ``rules``, and the ABs whose content key changed (see the module docstring);
    ``nights``, ``masters`` and ``options`` (as :func:`plan_campaign` takes them) are used only when the
    change is more than recipe parameters."""
    actions = params_only(plan.rules, rules)
    if actions is None:
        fresh = plan_campaign(nights, rules, masters, pipeline=plan.pipeline, **options)  # type: ignore[arg-type]
        return fresh, {n for n, k in fresh.keys.items() if plan.abs.get(n) is None or plan.abs[n].content_key != k}
    roots = {name: replace(ab, params=rules.actions[ab.action].params)
             for name, ab in plan.abs.items() if ab.action in actions}
    affected = set(roots) | descendants(plan.abs.values(), roots)
    subset = [roots.get(name) or plan.abs[name] for name in plan.abs if name in affected]
    old = plan.abs
    keys = keys_in_order(subset, lambda _recipe: plan.pipeline, lambda name: old[name].content_key if name in old
                         else None, _name_identity)
    abs_ = dict(plan.abs)
    for ab in subset:
        abs_[ab.name] = replace(ab, content_key=keys[ab.name])
    changed = {name for name in affected if abs_[name].content_key != old[name].content_key}
    return CampaignPlan(rules, plan.pipeline, abs_), changed
