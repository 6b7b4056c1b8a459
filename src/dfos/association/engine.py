"""createAB's engine: classified frames + rules + calibration memory -> ABs, virtual products, orphans.

Pure: no files, no clock.  The steps are

1. organise the night's frames into groups (:mod:`.organise`) and keep the
   groups of the mode (CALIB: raw frames whose DPR.CATG is not SCIENCE;
   SCIENCE: the others);
2. give every group the virtual products its action declares (``product``);
3. match every select of every group against its pool (:mod:`.match`):
   ``calibFiles`` is the calibration memory (certified masters, earlier virtual
   products) plus this night's virtual products, ``rawFiles`` the night's raw
   frames, ``inputFiles`` both;
4. a group that misses a required input, or whose template is short of frames,
   is INCOMPLETE; its products are withdrawn and the groups that took them are
   matched again, until nothing changes;
5. the virtual inputs a group took become its WAITFOR parents.

A required calibration that no action of the rules declares as a product (ESO's rules without a
product map) cannot come from this night: the AB's missing reason says the cascade stops there until
one is in the calibration memory (:class:`Producers`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from dfos.ab.model import AB, CalibInput, Completeness, ProcessStatus, Product, RawInput, ab_name, product_root
from dfos.association.classify import Classifier
from dfos.association.frames import Frame, mid_exposure
from dfos.association.match import Calib, CalibIndex, InputMatch, SelectPlan, match_select
from dfos.association.organise import Group, organise
from dfos.keys import BatchId, KeyLike, Mode, ProcessingKey
from dfos.oca.evaluate import MISSING, coarse, compile_expression
from dfos.oca.syntax import Action, And, Compare, Condition, Key, Literal, Or, ProductSpec, RuleSet, Select

__all__ = ["AssociationResult", "Orphan", "Planned", "Producers", "associate"]


@dataclass(frozen=True)
class Planned:
    """One AB with the evidence behind it."""

    ab: AB
    group: Group
    inputs: tuple[InputMatch, ...]


@dataclass(frozen=True)
class Producers:
    """What the rules declare their recipes make, to tell "missing tonight" from "made by nobody"."""

    catgs: frozenset[str]
    """PRO.CATG of every declared product."""
    silent: tuple[str, ...]
    """Actions with a recipe that declare no products, sorted."""

    @classmethod
    def of(cls, rules: RuleSet) -> Producers:
        actions = rules.actions.values()
        return cls(frozenset(p.catg for a in actions for p in a.products),
                   tuple(sorted(a.name for a in actions if a.recipe and not a.products)))

    def stops(self, select: Select) -> str | None:
        """The note for a missing required input nobody declares (None: some action makes it, or every
        action declares its products, so the rules are complete as they are)."""
        wanted = {select.tag, *_catg_constants(select.condition)}
        if not self.silent or wanted & self.catgs:
            return None
        shown = ", ".join(self.silent[:4]) + (f" and {len(self.silent) - 4} more" if len(self.silent) > 4 else "")
        return (f"no action of the rules declares a product {select.tag}, so no AB makes one: the cascade stops "
                f"here until a {select.tag} is in the calibration memory; {len(self.silent)} action(s) with a "
                f"recipe declare no products ({shown}): a product map naming theirs links the cascade "
                "(docs/instruments.md)")


def _catg_constants(condition: Condition) -> set[str]:
    """The strings a condition requires of DO.CATG or PRO.CATG (``DO.CATG == "MASTER_BIAS"``)."""
    if isinstance(condition, (And, Or)):
        return {c for item in condition.items for c in _catg_constants(item)}
    if isinstance(condition, Compare) and condition.op == "==":
        sides = (condition.left, condition.right)
        keys = [k for k in sides if isinstance(k, Key) and not k.of_input and k.name in ("DO.CATG", "PRO.CATG")]
        values = [v.value for v in sides if isinstance(v, Literal) and isinstance(v.value, str)]
        return set(values) if keys else set()
    return set()


@dataclass(frozen=True)
class Orphan:
    frame: Frame
    reason: str


@dataclass(frozen=True)
class AssociationResult:
    abs: tuple[Planned, ...]
    vcals: tuple[Calib, ...]
    """Virtual products of the COMPLETE ABs."""
    orphans: tuple[Orphan, ...]
    other_mode: tuple[Group, ...] = field(default=())
    """Groups left for the other mode (SCIENCE groups in a CALIB run and vice versa)."""


def _text(value: Any) -> str:
    if value is None:
        return "NONE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace(" ", "_") or "NONE"


def _group_mode(group: Group) -> Mode:
    """SCIENCE for a group of frames whose DPR.CATG is SCIENCE, else CALIB."""
    return Mode.SCIENCE if str(group.first.get("DPR.CATG", "")).upper() == "SCIENCE" else Mode.CALIB


def _names(groups: Sequence[Group]) -> dict[int, str]:
    plain = [ab_name(g.first.name, g.tag) for g in groups]
    clashes = {n for n, count in Counter(plain).items() if count > 1}
    return {
        i: ab_name(g.first.name, f"{g.tag}_{g.action}") if plain[i] in clashes else plain[i]
        for i, g in enumerate(groups)
    }


def _raw_type(group: Group) -> str:
    first = group.first
    return _text(first.classes.get("RAW.TYPE") or first.category or "UNKNOWN")


def _virtual(group: Group, name: str, action: Action, classifier: Classifier, date: str) -> list[Calib]:
    root = product_root(name)
    raw_type = _raw_type(group)
    products = []
    base = {k: v for k, v in group.first.header.items() if not k.startswith(("DPR.", "TPL.EXPNO"))}
    for number, spec in enumerate(action.products):
        product = f"{root}_{number:04d}.fits"
        header = {**base, **_product_keys(spec, group.first), "PRO.CATG": spec.catg, "ARCFILE": product,
                  "DFOS.AB": name}
        frame = classifier.classify_virtual(Frame(product, header))
        products.append(
            Calib(
                frame=frame,
                ref=f"$DFO_CAL_DIR/VCAL/{date}/{product.removesuffix('.fits')}.hdr",
                sof_path=f"$DFS_PRODUCT/{raw_type}/{date}/{product}",
                mid=mid_exposure(group.first),
                virtual=True,
                producer=name,
            )
        )
    return products


def _product_keys(spec: ProductSpec, first: Frame) -> dict[str, Any]:
    """The keywords a product block gives its product (``PRO.EXT``, ``REFLEX.CATG``, ...), evaluated on the
    group's first frame (a keyword-valued one copies that frame's value)."""
    keys = {}
    view = first.view
    for assignment in spec.assignments:
        value = compile_expression(assignment.expression)(view, view)
        if value is not MISSING:
            keys[assignment.key] = value
    return keys


def _raw_calibs(frames: Sequence[Frame], date: str) -> list[Calib]:
    return [Calib(frame=f, ref=f"$DFO_RAW_DIR/{date}/{f.name}", sof_path=f"$DFO_RAW_DIR/{date}/{f.name}",
                  mid=mid_exposure(f), raw=True)
            for f in frames]


@dataclass
class _Matching:
    """The fixed point of step 4: every group's matches and missing reasons, the INCOMPLETE groups withdrawn.

    Every virtual product is offered first; an INCOMPLETE group's products are then withdrawn and
    every group that took one is matched again (INCOMPLETE ones too, so that no AB names a product
    that will never exist).  Withdrawing only removes candidates, so this ends."""

    groups: Sequence[Group]
    names: dict[int, str]
    rules: RuleSet
    virtual: dict[int, list[Calib]]
    pools: dict[str, CalibIndex]
    template_sizes: Counter[str]
    producers: Producers
    recipes: frozenset[str] | None
    plans: dict[int, SelectPlan] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)
    withdrawn: set[int] = field(default_factory=set)
    matches: dict[int, tuple[InputMatch, ...]] = field(default_factory=dict)
    reasons: dict[int, list[str]] = field(default_factory=dict)
    extra: dict[int, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.plans = {id(s): SelectPlan.of(s) for action in self.rules.actions.values() for s in action.selects}

    def run(self, i: int) -> None:
        """Match group ``i`` against what is offered now."""
        group = self.groups[i]
        action = self.rules.actions.get(group.action)
        if action is None:
            self.matches[i] = ()
        else:
            exclude = {**self.excluded, **{c.name: "a product of this AB itself" for c in self.virtual[i]}}
            at = mid_exposure(group.first)
            self.matches[i] = tuple(
                match_select(s, self.plans[id(s)], group.first, at, self.pools[s.pool], exclude)
                for s in action.selects
            )
        self.reasons[i] = (_reasons(group, action, self.matches[i], self.template_sizes, self.producers, self.recipes)
                           + self.extra.get(i, []))

    def _newly_incomplete(self) -> set[int]:
        """Groups INCOMPLETE and not yet withdrawn; when none, those caught in a dependency cycle."""
        newly = {i for i, why in self.reasons.items() if why} - self.withdrawn
        if newly:
            return newly
        cycles = _cycles(self.groups, self.names, self.matches, self.withdrawn)
        for i, why in cycles.items():
            self.extra.setdefault(i, []).append(why)
            self.reasons[i].append(why)
        return set(cycles)

    def settle(self) -> None:
        for i in range(len(self.groups)):
            self.run(i)
        while newly := self._newly_incomplete():
            self.withdrawn |= newly
            gone = {c.name: f"its AB {self.names[i]} is INCOMPLETE" for i in newly for c in self.virtual[i]}
            self.excluded.update(gone)
            for i in range(len(self.groups)):
                if any(c.name in gone for m in self.matches[i] for c in m.taken):
                    self.run(i)


def associate(
    frames: Sequence[Frame],
    rules: RuleSet,
    memory: Sequence[Calib],
    *,
    instrument: str,
    date: KeyLike,
    mode: Mode | str = Mode.CALIB,
    drs_type: str = "CON",
    classifier: Classifier | None = None,
    recipes: frozenset[str] | None = None,
    withheld: Collection[str] = (),
    regroup: Callable[[Sequence[Group]], Sequence[Group]] | None = None,
) -> AssociationResult:
    """Associate the frames of a processing key (``date``: a DFO date, a run or a project); see the module
    docstring.  ``frames`` may be unclassified.  ``recipes``: the recipes esorex has (None: unknown); a
    group whose action names another one cannot run.  ``withheld``: ABs whose products are offered to no
    one (rejected by a QC scientist): their ABs are still made, their virtual products are not.  ``regroup``
    turns the organisation's groups into others before association (DEEP mode:
    :func:`dfos.association.deep.deep_groups`)."""
    key, mode = ProcessingKey.of(date), Mode.parse(mode)
    classifier = classifier or Classifier(rules.classify)
    classified = [f if f.classes else classifier.classify(f) for f in frames]
    organisation = organise(classified, rules.organise)
    organised = tuple(regroup(organisation.groups)) if regroup else organisation.groups
    groups = [g for g in organised if _group_mode(g) is mode]
    other = tuple(g for g in organised if _group_mode(g) is not mode)
    names = _names(groups)

    virtual: dict[int, list[Calib]] = {}
    for i, group in enumerate(groups):
        action = rules.actions.get(group.action)
        virtual[i] = _virtual(group, names[i], action, classifier, key.text) if action else []
    raw_calibs = _raw_calibs(classified, key.text)
    shown = {i: [] if names[i] in withheld else calibs for i, calibs in virtual.items()}  # offered to others
    offered = [*memory, *(c for cs in shown.values() for c in cs)]
    pools = {"calibFiles": CalibIndex(offered), "rawFiles": CalibIndex(raw_calibs),
             "inputFiles": CalibIndex([*offered, *raw_calibs])}
    template_sizes = Counter(str(f.get("TPL.START")) for f in classified if f.get("TPL.START") is not None)
    matching = _Matching(groups, names, rules, shown, pools, template_sizes, Producers.of(rules), recipes)
    matching.settle()

    planned = []
    orphans = [Orphan(f, _orphan_reason(f)) for f in organisation.orphans]
    batch = BatchId.of(mode, key)
    for i, group in enumerate(groups):
        action = rules.actions.get(group.action)
        ab = _build(group, names[i], action, matching.matches[i], instrument, batch, drs_type, virtual[i],
                    matching.reasons[i])
        planned.append(Planned(ab, group, matching.matches[i]))
        orphans += _left_out(group, names[i])
    vcals = tuple(c for i, cs in shown.items() if i not in matching.withdrawn for c in cs)
    return AssociationResult(tuple(_cascade_order(planned)), vcals, tuple(orphans), other)


def _left_out(group: Group, name: str) -> list[Orphan]:
    """The frames of a group beyond the most its rule takes."""
    if not group.max_frames or len(group.frames) <= group.max_frames:
        return []
    return [Orphan(f, f"left out of {name}: its rule takes at most {group.max_frames} frames")
            for f in group.frames[group.max_frames:]]


def _cycles(groups: Sequence[Group], names: dict[int, str], matches: dict[int, tuple[InputMatch, ...]],
            withdrawn: set[int]) -> dict[int, str]:
    """Groups that wait for themselves through their virtual inputs, with the cycle in words."""
    index_of = {name: i for i, name in names.items()}
    parents = {
        i: sorted({index_of[c.producer] for m in matches[i] for c in m.taken if c.producer in index_of} - withdrawn)
        for i in range(len(groups)) if i not in withdrawn
    }
    found: dict[int, str] = {}
    state: dict[int, int] = {}  # 1: on the path, 2: done
    path: list[int] = []

    def visit(i: int) -> None:
        state[i] = 1
        path.append(i)
        for parent in parents.get(i, []):
            if state.get(parent) == 1:
                loop = path[path.index(parent):]
                words = " -> ".join(names[j] for j in [*loop, parent])
                for j in loop:
                    found.setdefault(j, f"dependency cycle: {words}")
            elif state.get(parent) is None:
                visit(parent)
        path.pop()
        state[i] = 2

    for i in sorted(parents):
        if state.get(i) is None:
            visit(i)
    return found


def _cascade_order(planned: list[Planned]) -> list[Planned]:
    """Parents before children; otherwise by time of the first frame, then name."""
    by_name = {p.ab.name: p for p in planned}
    ready = sorted((p for p in planned), key=lambda p: (p.ab.mjd_obs, p.ab.name))
    placed: set[str] = set()
    ordered: list[Planned] = []
    while ready:
        for position, candidate in enumerate(ready):
            waiting = [w for w in candidate.ab.waitfor if w in by_name and w not in placed]
            if not waiting:
                ordered.append(candidate)
                placed.add(candidate.ab.name)
                del ready[position]
                break
        else:  # a cycle (already INCOMPLETE): keep time order
            ordered += ready
            break
    return ordered


def _orphan_reason(frame: Frame) -> str:
    key = frame.category_key
    if key is None:
        return "no classification rule matches it (no DO.CATG or REFLEX.CATG)"
    return f"classified {key}={frame.category}, but no organisation rule selects it"


def _reasons(group: Group, action: Action | None, matches: Sequence[InputMatch],
             template_sizes: Counter[str], producers: Producers | None = None,
             recipes: frozenset[str] | None = None) -> list[str]:
    """Why a group cannot run (empty: it can)."""
    if action is None:
        return [f"the rules define no action {group.action}"]
    reasons = []
    if not action.recipe:
        reasons.append(f"the action {action.name} names no recipe")
    elif recipes is not None and action.recipe not in recipes:
        reasons.append(f"recipe {action.recipe} is not installed: esorex --recipes does not list it "
                       "(dfos instruments shows what each pipeline lacks)")
    start = group.key_values.get("TPL.START")
    if start is not None:  # a template group (SIG.TEMPLATE, or TPL.START among the group-by keys)
        expected = coarse(group.first.get("TPL.NEXP"))
        arrived = template_sizes[str(start)]
        if isinstance(expected, float) and arrived < expected:
            reasons.append(f"template incomplete: {arrived} of {int(expected)} frames (TPL.NEXP)")
    if len(group.frames) < group.min_frames:
        reasons.append(f"{len(group.frames)} frame(s), the rules ask for at least {group.min_frames}")
    for match in matches:
        if match.missing:
            found = len(match.taken)
            stops = producers.stops(match.select) if producers is not None else None
            reasons.append(f"{match.select.tag}: {found} of {match.select.min_ret} required found; "
                           f"looked for {match.looked_for}" + (f"; {stops}" if stops else ""))
    return reasons


def _build(group: Group, name: str, action: Action | None, matches: Sequence[InputMatch], instrument: str,
           batch: BatchId, drs_type: str, products: list[Calib], reasons: list[str]) -> AB:
    first = group.first
    date = batch.key.text
    raw_type = _raw_type(group)
    root = product_root(name)
    mcalib: list[CalibInput] = []
    massoc: list[CalibInput] = []
    parents: list[str] = []
    for match in matches:
        for calib in match.taken:
            entry = CalibInput(calib.ref, match.select.tag, calib.sof_path, calib.virtual, calib.producer, match.level)
            (massoc if calib.raw else mcalib).append(entry)
            if calib.producer and calib.producer not in parents:
                parents.append(calib.producer)
    frames = group.frames[: group.max_frames] if group.max_frames else group.frames
    return AB(
        name=name,
        instrument=instrument,
        date=date,
        dpr_catg=_text(first.get("DPR.CATG")),
        raw_type=raw_type,
        recipe=(action.recipe if action and action.recipe else "NONE"),
        drs_type=drs_type,
        batch_id=batch.render(),
        event=group.event,
        action=group.action,
        completeness=Completeness.INCOMPLETE if reasons else Completeness.COMPLETE,
        process_status=ProcessStatus.CREATED,
        obs_prog_id=_text(first.get("OBS.PROG.ID")),
        obs_id=_text(first.get("OBS.ID")),
        obs_mode="NONE" if batch.mode is Mode.CALIB else _text(first.get("OBS.MODE", "NONE")),
        mjd_obs=round(first.mjd, 8),
        mjd_obs_mod=round(mid_exposure(first), 8),
        prod_root=root,
        prod_path=f"$DFS_PRODUCT/{raw_type}/{date}",
        log_name=f"{root}.log",
        match_keys=tuple((k, _text(v)) for k, v in group.key_values.items()),
        rawfiles=tuple(RawInput(f"$DFO_RAW_DIR/{date}/{f.name}", _text(f.category)) for f in frames),
        mcalib=tuple(mcalib),
        massoc=tuple(massoc),
        params=action.params if action else (),
        products=tuple(Product(c.name, str(c.frame.get("PRO.CATG"))) for c in products),
        waitfor=tuple(parents),
        missing=tuple(reasons),
    )


def with_status(ab: AB, status: ProcessStatus) -> AB:
    """The AB with another PROCESS_STATUS."""
    return replace(ab, process_status=status)
