"""Calibration matching: which files a group's ``select file as TAG ...`` statements take.

Every select is compiled once into an index plan: the equalities of its
top-level ``and`` (``DO.CATG == "MASTER_BIAS"``, ``inputFile.DET.WIN1.BINX ==
DET.WIN1.BINX``) become hash keys, the rest stays a predicate.  Candidates are
then found by one dictionary lookup on the group's first frame plus a walk
outwards in time from the group (a bisection), never by comparing every group
with every calibration.

Time matching (dfos extension ``using``): CLOSEST (default) takes the nearest
in mid-exposure time, PREVIOUS the nearest before, NEXT the nearest after,
ATTACHED the nearest with the same OBS.ID.  Validity windows are quality
levels: level 0 is the strictest window; if it holds fewer than the required
files the next, wider one is tried, and the level used is recorded.
Ties (equally close) go to the earlier calibration, then the smaller file name.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dfos.association.frames import Frame
from dfos.oca.evaluate import Predicate, coarse, compile_condition, equal
from dfos.oca.syntax import And, Compare, Condition, Key, Literal, Match, Select

__all__ = ["Calib", "CalibIndex", "Considered", "InputMatch", "SelectPlan", "match_select"]

#: How many rejected neighbours an explanation lists per input (bounded work per group).
EXPLAIN_LIMIT = 6


@dataclass(frozen=True)
class Calib:
    """A file that can be associated: a certified master, a virtual product or a raw frame."""

    frame: Frame
    """Its classified header."""
    ref: str
    """How the AB names it (``$DFO_CAL_DIR/...``, ``$DFO_CAL_DIR/VCAL/...``, ``$DFO_RAW_DIR/...``)."""
    sof_path: str
    """Where the file is (or will be) for the recipe."""
    mid: float
    """Mid-exposure MJD used for time matching."""
    virtual: bool = False
    producer: str | None = None
    """The AB that will make a virtual product."""
    raw: bool = False
    """A raw frame of the night (an AB lists it as MASSOC), not a calibration (MCALIB)."""

    @property
    def name(self) -> str:
        return self.frame.name


@dataclass(frozen=True)
class Considered:
    """One candidate and what became of it."""

    name: str
    taken: bool
    reason: str


@dataclass(frozen=True)
class InputMatch:
    """The outcome of one select for one group."""

    select: Select
    taken: tuple[Calib, ...]
    level: int | None
    """Quality level used (index into the windows), None without windows or when nothing matched."""
    considered: tuple[Considered, ...]
    plan: SelectPlan
    first: Frame

    @property
    def looked_for(self) -> str:
        """What was searched, in words (for explanations and missing inputs)."""
        return _describe(self.select, self.plan, self.first)

    @property
    def missing(self) -> bool:
        return len(self.taken) < self.select.min_ret

    @property
    def disabled(self) -> bool:
        return self.select.max_ret == 0


@dataclass(frozen=True)
class SelectPlan:
    """A select split into hash keys and a residual predicate."""

    consts: tuple[tuple[str, Any], ...]
    """``(calibration keyword, constant)`` equalities."""
    pairs: tuple[tuple[str, str], ...]
    """``(calibration keyword, first-frame keyword)`` equalities."""
    residual: Predicate | None
    residual_text: str
    exact: Predicate
    """The whole condition: the index is a coarse filter, this decides."""

    @classmethod
    def of(cls, select: Select) -> SelectPlan:
        items: Sequence[Condition] = select.condition.items if isinstance(select.condition, And) else (
            select.condition,
        )
        consts: list[tuple[str, Any]] = []
        pairs: list[tuple[str, str]] = []
        rest: list[Condition] = []
        for item in items:
            if isinstance(item, Compare) and item.op == "==":
                left, right = item.left, item.right
                if isinstance(left, Literal) and isinstance(right, Key):
                    left, right = right, left
                if isinstance(left, Key) and isinstance(right, Literal) and not left.of_input:
                    consts.append((left.name, coarse(right.value)))
                    continue
                if isinstance(left, Key) and isinstance(right, Key) and left.of_input != right.of_input:
                    calib, first = (right, left) if left.of_input else (left, right)
                    pairs.append((calib.name, first.name))
                    continue
            rest.append(item)
        if select.match is Match.ATTACHED and ("OBS.ID", "OBS.ID") not in pairs:
            pairs.append(("OBS.ID", "OBS.ID"))
        residual = None
        text = ""
        if rest:
            condition: Condition = rest[0] if len(rest) == 1 else And(tuple(rest))
            residual, text = compile_condition(condition), str(condition)
        return cls(tuple(consts), tuple(pairs), residual, text, compile_condition(select.condition))


class CalibIndex:
    """Calibrations indexed per select plan; built lazily, reused for every group."""

    def __init__(self, calibs: Iterable[Calib]) -> None:
        self.calibs = sorted(calibs, key=lambda c: (c.mid, c.name))
        self._buckets: dict[tuple[Any, ...], dict[tuple[Any, ...], tuple[list[float], list[Calib]]]] = {}

    def _bucket_map(self, keys: tuple[str, ...]) -> dict[tuple[Any, ...], tuple[list[float], list[Calib]]]:
        built = self._buckets.get(keys)
        if built is None:
            built = {}
            for calib in self.calibs:  # already in time order
                value = tuple(coarse(calib.frame.get(k)) for k in keys)
                mids, members = built.setdefault(value, ([], []))
                mids.append(calib.mid)
                members.append(calib)
            self._buckets[keys] = built
        return built

    def bucket(self, keys: tuple[str, ...], values: tuple[Any, ...]) -> tuple[list[float], list[Calib]]:
        return self._bucket_map(keys).get(values, ([], []))


def _outwards(mids: list[float], members: list[Calib], at: float, match: Match) -> Iterable[tuple[float, Calib]]:
    """Candidates in order of time distance; equally distant ones: earlier first, then by name."""
    split = bisect.bisect_left(mids, at)
    before, after = split - 1, split
    use_before, use_after = match is not Match.NEXT, match is not Match.PREVIOUS
    while True:
        left = at - mids[before] if use_before and before >= 0 else None
        right = mids[after] - at if use_after and after < len(mids) else None
        if left is None and right is None:
            return
        distance = min(d for d in (left, right) if d is not None)
        batch: list[tuple[float, Calib]] = []
        while use_before and before >= 0 and at - mids[before] == distance:
            batch.append((mids[before] - at, members[before]))
            before -= 1
        while use_after and after < len(mids) and mids[after] - at == distance:
            batch.append((mids[after] - at, members[after]))
            after += 1
        batch.sort(key=lambda item: (item[0] > 0, item[1].name))
        yield from batch


def match_select(select: Select, plan: SelectPlan, first: Frame, at: float, index: CalibIndex,
                 exclude: Mapping[str, str] | None = None) -> InputMatch:
    """Apply one select to a group whose first frame is ``first`` and whose time is ``at`` (MJD).

    ``exclude`` maps candidates that may not be taken to the reason (a product of the group
    itself, a product of an INCOMPLETE AB).
    """
    if select.max_ret == 0:
        return InputMatch(select, (), None, (), plan, first)
    first_view = first.view
    lookup = _lookup(plan, first_view)
    if isinstance(lookup, str):
        reason = f"the raw frame has no {lookup}"
        return InputMatch(select, (), None, (Considered("-", False, reason),), plan, first)
    mids, members = index.bucket(*lookup)
    accepted, considered = _scan(select, plan, first_view, _outwards(mids, members, at, select.match), exclude or {})
    needed = max(select.min_ret, 1)
    taken, level = _level(select, accepted, needed)
    result = [Considered(c.name, True, _taken_reason(d, level, select)) for d, c in taken]
    result += [Considered(c.name, False, f"outside the level-{level} window") for d, c in accepted
               if (d, c) not in taken]
    result += considered
    if len(taken) < needed:
        result += _neighbours(select, plan, first_view, index, at)
    return InputMatch(select, tuple(c for _, c in taken), level, tuple(result), plan, first)


def _lookup(plan: SelectPlan, first_view: Any) -> tuple[tuple[str, ...], tuple[Any, ...]] | str:
    """The index keys of a select and their values for the group's first frame; or the key it lacks."""
    values: list[Any] = [value for _, value in plan.consts]
    for _, first_key in plan.pairs:
        value = coarse(first_view.get(first_key))
        if value is None:
            return first_key
        values.append(value)
    return tuple(k for k, _ in plan.consts) + tuple(k for k, _ in plan.pairs), tuple(values)


def _scan(select: Select, plan: SelectPlan, first_view: Any, candidates: Iterable[tuple[float, Calib]],
          exclude: Mapping[str, str]) -> tuple[list[tuple[float, Calib]], list[Considered]]:
    """Walk the candidates outwards in time: those accepted (at most ``max_ret``, within the widest
    window, the select's condition true), and why the others seen were passed over (some of them)."""
    widest = select.windows[-1] if select.windows else float("inf")
    accepted: list[tuple[float, Calib]] = []
    considered: list[Considered] = []
    extra = 0
    for delta, calib in candidates:
        if calib.name in exclude:
            if len(considered) < EXPLAIN_LIMIT:
                considered.append(Considered(calib.name, False, exclude[calib.name]))
            continue
        if abs(delta) > widest:
            considered.append(Considered(calib.name, False, f"outside the widest window ({widest:g} days): "
                                                           f"{abs(delta):.2f} days away"))
            break
        if not plan.exact(calib.frame.view, first_view):
            if len(considered) < EXPLAIN_LIMIT:
                considered.append(Considered(calib.name, False, _why_not(plan, calib, first_view)))
            continue
        if len(accepted) >= select.max_ret:
            considered.append(Considered(calib.name, False, f"farther in time ({abs(delta):.3f} days)"))
            extra += 1
            if extra >= 2:
                break
            continue
        accepted.append((delta, calib))
    return accepted, considered


def _level(select: Select, accepted: list[tuple[float, Calib]],
           needed: int) -> tuple[list[tuple[float, Calib]], int | None]:
    """The candidates taken: those within the narrowest window that holds ``needed`` of them (else within
    the widest), and that window's quality level (None for a select without windows, or nothing taken)."""
    windows = select.windows or (float("inf"),)
    for number, window in enumerate(windows):
        inside = [(d, c) for d, c in accepted if abs(d) <= window]
        if len(inside) >= needed or number == len(windows) - 1:
            return inside, (number if select.windows and inside else None)
    return [], None


def _taken_reason(delta: float, level: int | None, select: Select) -> str:
    when = "before" if delta < 0 else "after" if delta > 0 else "at the same time as"
    text = f"{select.match.value.lower()}: {abs(delta):.3f} days {when} the raw frames"
    if level is not None:
        text += f", quality level {level} (within {select.windows[level]:g} days)"
    return text


def _why_not(plan: SelectPlan, calib: Calib, first_view: Any) -> str:
    view = calib.frame.view
    for calib_key, first_key in plan.pairs:
        if not equal(view.get(calib_key), first_view.get(first_key)):
            return f"{calib_key} is {view.get(calib_key)!r}, the raw frame has {first_view.get(first_key)!r}"
    return f"condition false: {plan.residual_text or 'a typed comparison differs'}"


#: How many files of the right kind a missing input's explanation looks through for differing keys.
NEIGHBOUR_SCAN = 50


def _neighbours(select: Select, plan: SelectPlan, first_view: Any, index: CalibIndex, at: float) -> list[Considered]:
    """For a missing input: the nearest files of the right kind, and which key differed."""
    keys = tuple(k for k, _ in plan.consts)
    mids, members = index.bucket(keys, tuple(v for _, v in plan.consts))
    found = []
    for scanned, (_, calib) in enumerate(_outwards(mids, members, at, Match.CLOSEST)):
        if scanned >= NEIGHBOUR_SCAN:
            break
        differing = [
            f"{calib_key} is {calib.frame.get(calib_key)!r}, the raw frame has {first_view.get(first_key)!r}"
            for calib_key, first_key in plan.pairs
            if not equal(calib.frame.get(calib_key), first_view.get(first_key))
        ]
        if differing:
            found.append(Considered(calib.name, False, "; ".join(differing)))
        if len(found) >= EXPLAIN_LIMIT:
            break
    return found


def _describe(select: Select, plan: SelectPlan, first: Frame) -> str:
    parts = [f"{k} == {v!r}" for k, v in plan.consts]
    parts += [f"{c} == {first.get(f)!r}" for c, f in plan.pairs]
    if plan.residual_text:
        parts.append(plan.residual_text)
    window = f" within {', '.join(f'{w:g}' for w in select.windows)} days" if select.windows else ""
    return f"{select.tag} from {select.pool} where {' and '.join(parts) or 'true'} ({select.match.value}{window})"

