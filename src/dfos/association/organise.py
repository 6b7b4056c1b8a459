"""Organisation: group classified frames into the candidate ABs of each action.

For every ``select execute(ACTION) from inputFiles where <condition> ...``
statement, the frames it selects are grouped:

* ``SIG.FRAME == 1``: one group per frame;
* ``SIG.TEMPLATE == 1``: one group per template (TPL.START), split further by
  any ``group by`` keywords;
* ``group by K1, K2 ...`` alone: one group per combination of values;
* none of these: one group of all selected frames.

Groups of the same action and grouping values merge across statements (so a
detector-monitoring template whose lamp-on and lamp-off frames are selected by
two statements is one group).  Frames no statement selects are orphans.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dfos.association.frames import Frame
from dfos.oca.evaluate import Predicate, coarse, compile_condition
from dfos.oca.syntax import And, Compare, Key, Literal, OrganiseRule

__all__ = ["Group", "Organisation", "organise"]


@dataclass(frozen=True)
class Group:
    """A candidate AB: the frames one recipe call processes."""

    action: str
    key: tuple[Any, ...]
    """Grouping values (kind first: FRAME, TPL, KEYS or ALL)."""
    frames: tuple[Frame, ...]
    """Members, oldest first (ties by name)."""
    event: str
    """AB_EVENT: the ``as`` event name, else the action."""
    tag: str
    """Suffix of the AB name: the ``as`` tag, else ``tpl`` for templates and ``frm`` otherwise."""
    min_frames: int = 1
    max_frames: int = 0
    rules: tuple[str, ...] = ()
    """Where the organisation statements that built it are written."""

    @property
    def first(self) -> Frame:
        """The group's first frame (``inputFile`` in association conditions)."""
        return self.frames[0]

    @property
    def key_values(self) -> dict[str, Any]:
        """The grouping keywords and their values (RAW_MATCH_KEY)."""
        return dict(self.key[1]) if len(self.key) > 1 and isinstance(self.key[1], tuple) else {}


@dataclass(frozen=True)
class Organisation:
    groups: tuple[Group, ...]
    orphans: tuple[Frame, ...]
    """Frames no organisation statement selected."""
    by_frame: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Frame name -> actions that took it."""


def _order(frame: Frame) -> tuple[float, str]:
    return (frame.mjd, frame.name)


def _group_key(rule: OrganiseRule, frame: Frame) -> tuple[Any, ...]:
    values = tuple((k, _plain(frame.get(k))) for k in rule.group_by)
    if rule.per_frame:
        return ("FRAME", (("ARCFILE", frame.name),))
    if rule.per_template:
        return ("TPL", (("TPL.START", _plain(frame.get("TPL.START"))), *values))
    if rule.group_by:
        return ("KEYS", values)
    return ("ALL", ())


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def _dispatch_key(rule: OrganiseRule) -> tuple[str, Any] | None:
    """A ``KEY == "constant"`` the rule's condition requires, to skip rules that cannot match a frame."""
    items = rule.condition.items if isinstance(rule.condition, And) else (rule.condition,)
    for item in items:
        if isinstance(item, Compare) and item.op == "==":
            left, right = item.left, item.right
            if isinstance(left, Literal):
                left, right = right, left
            if isinstance(left, Key) and not left.of_input and isinstance(right, Literal) and \
                    left.name not in ("SIG.TEMPLATE", "SIG.FRAME"):
                return left.name, coarse(right.value)
    return None


class _Dispatch:
    """Organisation rules indexed by a required ``KEY == "constant"``; each frame sees only its candidates."""

    def __init__(self, rules: Sequence[OrganiseRule]) -> None:
        self.always: list[tuple[int, OrganiseRule, Predicate]] = []
        self.by_key: dict[str, dict[Any, list[tuple[int, OrganiseRule, Predicate]]]] = {}
        for number, rule in enumerate(rules):
            entry = (number, rule, compile_condition(rule.condition))
            key = _dispatch_key(rule)
            if key is None:
                self.always.append(entry)
            else:
                self.by_key.setdefault(key[0], {}).setdefault(key[1], []).append(entry)

    def candidates(self, frame: Frame) -> list[tuple[int, OrganiseRule, Predicate]]:
        found = list(self.always)
        for key, table in self.by_key.items():
            found += table.get(coarse(frame.get(key)), [])
        return sorted(found, key=lambda entry: entry[0]) if len(found) > 1 else found


def organise(frames: Iterable[Frame], rules: Sequence[OrganiseRule]) -> Organisation:
    """Group classified frames by the organisation statements; see the module docstring."""
    dispatch = _Dispatch(rules)
    members: dict[tuple[str, tuple[Any, ...]], list[Frame]] = {}
    meta: dict[tuple[str, tuple[Any, ...]], OrganiseRule] = {}
    sources: dict[tuple[str, tuple[Any, ...]], list[str]] = {}
    taken: dict[str, list[str]] = {}
    orphans: list[Frame] = []
    for frame in sorted(frames, key=_order):
        view = frame.view
        hit = False
        for _, rule, predicate in dispatch.candidates(frame):
            if predicate(view, None):
                identity = (rule.action, _group_key(rule, frame))
                members.setdefault(identity, []).append(frame)
                meta.setdefault(identity, rule)
                where = str(rule.source)
                if where not in sources.setdefault(identity, []):
                    sources[identity].append(where)
                if rule.action not in taken.setdefault(frame.name, []):
                    taken[frame.name].append(rule.action)
                hit = True
        if not hit:
            orphans.append(frame)
    groups = []
    for identity, group_frames in members.items():
        rule = meta[identity]
        unique = tuple(dict((f.name, f) for f in sorted(group_frames, key=_order)).values())
        default_tag = "tpl" if rule.per_template else "frm"
        groups.append(
            Group(
                action=identity[0],
                key=identity[1],
                frames=unique,
                event=rule.event or identity[0],
                tag=rule.tag or default_tag,
                min_frames=rule.min_frames,
                max_frames=rule.max_frames,
                rules=tuple(sources[identity]),
            )
        )
    groups.sort(key=lambda g: (_order(g.first), g.action, g.tag))
    return Organisation(tuple(groups), tuple(orphans), {k: tuple(v) for k, v in taken.items()})
