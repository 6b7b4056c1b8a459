"""Evaluating OCA conditions over frames, compiled to Python closures once per rule.

Semantics, as dfos defines them (``docs/oca.md``):

* A keyword missing from the frame makes every comparison with it false
  (``!=`` included) and ``like`` false.
* Numbers compare as numbers; a string compared with a number is read as a
  number when it can be, else the comparison is false.  Two strings compare
  exactly (case matters), ``<``/``>`` lexically.
* ``like`` uses SQL wildcards (``%`` any run, ``_`` one character), case-sensitive.  It is
  matched without backtracking (:func:`like_matcher`): at most ``len(value) * len(pattern)``
  character comparisons, whatever the pattern.  OCA has no ``regexp`` operator (the parser
  refuses one), so no rule can hand a regular expression to the matcher.
* ``SIG.TEMPLATE`` and ``SIG.FRAME`` are grouping directives; as values they are 1.
* ``inputFile.KEY`` reads the group's first frame; without a group it is missing.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from dfos.oca.syntax import And, Compare, Condition, Key, Like, Literal, Not, Operand, Or

__all__ = ["Frame", "Predicate", "coarse", "compile_condition", "equal", "keys_of", "like_matcher"]

#: A frame as conditions see it: dotted keyword -> value.
Frame = Mapping[str, Any]
#: A compiled condition: (frame, first frame of the group or None) -> bool.
Predicate = Callable[[Frame, Frame | None], bool]

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}
_SIGNALS = frozenset({"SIG.TEMPLATE", "SIG.FRAME"})


def _at(piece: str, value: str, start: int) -> bool:
    """Whether ``piece`` (``_`` any one character) matches ``value`` exactly at ``start``."""
    if start < 0 or start + len(piece) > len(value):
        return False
    return all(p == "_" or p == c for p, c in zip(piece, value[start : start + len(piece)], strict=True))


def _finder(piece: str) -> Callable[[str, int, int], int]:
    """``find(value, start, stop)``: the first index where ``piece`` lies wholly within ``value[start:stop]``
    (``_`` any one character), -1 if none.  A plain piece uses ``str.find``; one with ``_`` a regular
    expression of literals and ``.`` only (no quantifier, so no backtracking)."""
    if "_" not in piece:
        return lambda value, start, stop: value.find(piece, start, stop)
    regex = re.compile("".join("." if c == "_" else re.escape(c) for c in piece), re.DOTALL)

    def find(value: str, start: int, stop: int) -> int:
        found = regex.search(value, start, stop)
        return found.start() if found else -1

    return find


@lru_cache(maxsize=4096)
def like_matcher(pattern: str) -> Callable[[str], bool]:
    """A predicate telling whether a whole value matches the SQL ``like`` pattern.

    The pattern is cut at each ``%`` into pieces: the first must match at the start, the last at the
    end, and each piece between at its leftmost place after the one before (leftmost is always the
    best choice, so nothing is ever tried twice).  Work: at most ``len(value) * len(pattern)``
    character comparisons; ``%a%a%a...%b`` against 60 ``a`` is immediate (a backtracking regular
    expression took minutes).
    """
    pieces = pattern.split("%")
    if len(pieces) == 1:
        return lambda value: len(value) == len(pattern) and _at(pattern, value, 0)
    head, *middle, tail = pieces
    finders = [(len(piece), _finder(piece)) for piece in middle if piece]
    shortest = len(head) + len(tail) + sum(size for size, _ in finders)

    def match(value: str) -> bool:
        if len(value) < shortest or not _at(head, value, 0):
            return False
        position, stop = len(head), len(value) - len(tail)
        for size, find in finders:
            found = find(value, position, stop)
            if found < 0:
                return False
            position = found + size
        return _at(tail, value, stop)

    return match


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def coarse(value: Any) -> Any:
    """A hashable value such that ``a == b`` in OCA implies ``coarse(a) == coarse(b)``.

    Indexes (calibration buckets, rule dispatch) use it as a first filter; the
    exact OCA comparison is always applied afterwards.  Anything that reads as
    a number becomes that float; other strings stay themselves.
    """
    number = _as_number(value)
    if number is not None:
        return number
    return None if value is None else str(value)


def _compare(op: Callable[[Any, Any], bool], a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if isinstance(a, str) and isinstance(b, str):
        return op(a, b)
    na, nb = _as_number(a), _as_number(b)
    if na is None or nb is None:
        return False
    return op(na, nb)


def equal(a: Any, b: Any) -> bool:
    """OCA's ``==`` on two values."""
    return _compare(operator.eq, a, b)


def _fetcher(operand: Operand) -> Callable[[Frame, Frame | None], Any]:
    if isinstance(operand, Literal):
        value = operand.value
        return lambda frame, first: value
    name = operand.name
    if name in _SIGNALS:
        return lambda frame, first: 1.0
    if operand.of_input:
        return lambda frame, first: first.get(name) if first is not None else None
    return lambda frame, first: frame.get(name)


def compile_condition(condition: Condition) -> Predicate:
    """Compile a condition into a fast predicate."""
    if isinstance(condition, Compare):
        op = _OPS[condition.op]
        left, right = _fetcher(condition.left), _fetcher(condition.right)
        return lambda frame, first: _compare(op, left(frame, first), right(frame, first))
    if isinstance(condition, Like):
        matches = like_matcher(condition.pattern)
        fetch = _fetcher(condition.left)

        def like(frame: Frame, first: Frame | None) -> bool:
            value = fetch(frame, first)
            return value is not None and matches(str(value))

        return like
    if isinstance(condition, Not):
        inner = compile_condition(condition.item)
        return lambda frame, first: not inner(frame, first)
    parts = tuple(compile_condition(item) for item in condition.items)
    if isinstance(condition, And):
        return lambda frame, first: all(p(frame, first) for p in parts)
    assert isinstance(condition, Or)
    return lambda frame, first: any(p(frame, first) for p in parts)


def keys_of(condition: Condition, of_input: bool = False) -> set[str]:
    """Keywords a condition reads from the frame (or, with ``of_input``, from the first frame)."""
    if isinstance(condition, Compare):
        operands: tuple[Operand, ...] = (condition.left, condition.right)
    elif isinstance(condition, Like):
        operands = (condition.left,)
    elif isinstance(condition, Not):
        return keys_of(condition.item, of_input)
    else:
        return set().union(*(keys_of(item, of_input) for item in condition.items))
    return {o.name for o in operands if isinstance(o, Key) and o.of_input == of_input and o.name not in _SIGNALS}
