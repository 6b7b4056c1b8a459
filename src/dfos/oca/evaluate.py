"""Evaluating OCA conditions over frames, compiled to Python closures once per rule.

Semantics, as dfos defines them (``docs/oca.md``):

* A keyword missing from the frame makes every comparison with it false
  (``!=`` included), ``like`` and ``regexp`` false, ``is undefined`` true; ``not``
  turns any of these around.  ``A ?= B`` holds when either side is missing, else it
  is ``A == B``.
* Numbers compare as numbers; a string compared with a number is read as a
  number when it can be, else the comparison is false.  Two strings compare
  exactly (case matters), ``<``/``>`` lexically.
* ``like`` uses SQL wildcards (``%`` any run, ``_`` one character), case-sensitive.  It is
  matched without backtracking (:func:`like_matcher`): at most ``len(value) * len(pattern)``
  character comparisons, whatever the pattern.  ``regexp`` finds a POSIX extended regular
  expression anywhere in the value, in linear time (:mod:`dfos.oca.regexp`).
* ``is string`` / ``is number`` / ``is boolean`` test the value's type (a number written as a
  string is a string); ``is defined`` / ``is undefined`` whether the frame has the keyword.
* An operand alone is a condition: ``T``/``F``, or a keyword that holds a truth value
  (FITS ``T``, the text ``T`` or ``true``, a non-zero number).
* An assignment copies a constant, another keyword's value (nothing when that keyword is
  missing), or a condition's truth (``True``/``False``).
* ``SIG.TEMPLATE`` and ``SIG.FRAME`` are grouping directives; as values they are 1.
* ``inputFile.KEY`` reads the group's first frame; without a group it is missing.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from dfos.oca.regexp import regexp_matcher
from dfos.oca.syntax import (
    And,
    Compare,
    Condition,
    Expression,
    IsType,
    Key,
    Like,
    Literal,
    Not,
    Operand,
    Or,
    Regexp,
    Truth,
)

__all__ = [
    "MISSING",
    "Frame",
    "Predicate",
    "coarse",
    "compile_condition",
    "compile_expression",
    "equal",
    "keys_of",
    "like_matcher",
    "truth",
]

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
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:  # beyond a float's range: infinitely large, and never raise
            return math.inf if value > 0 else -math.inf
    if isinstance(value, float):
        return value
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


def _optional_equal(a: Any, b: Any) -> bool:
    """OCA's ``?=``: equal, or either side undefined."""
    return a is None or b is None or _compare(operator.eq, a, b)


def truth(value: Any) -> bool:
    """An operand used as a condition: FITS ``T``, the text ``T``/``TRUE`` (any case), a non-zero number."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    return isinstance(value, str) and value.strip().upper() in ("T", "TRUE")


def _is_type(kind: str, value: Any) -> bool:
    if kind == "defined":
        return value is not None
    if kind == "undefined":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str)  # "string"


#: What :func:`compile_expression` gives when the value comes from a keyword the frame lacks.
MISSING: Any = object()


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


def _text_test(operand: Operand, matches: Callable[[str], bool]) -> Predicate:
    fetch = _fetcher(operand)

    def test(frame: Frame, first: Frame | None) -> bool:
        value = fetch(frame, first)
        if value is None:
            return False
        try:
            text = str(value)
        except ValueError:  # an integer of more digits than Python writes out: no pattern holds
            return False
        return matches(text)

    return test


def compile_condition(condition: Condition) -> Predicate:
    """Compile a condition into a fast predicate."""
    if isinstance(condition, Compare):
        left, right = _fetcher(condition.left), _fetcher(condition.right)
        if condition.op == "?=":
            return lambda frame, first: _optional_equal(left(frame, first), right(frame, first))
        op = _OPS[condition.op]
        return lambda frame, first: _compare(op, left(frame, first), right(frame, first))
    if isinstance(condition, Like):
        return _text_test(condition.left, like_matcher(condition.pattern))
    if isinstance(condition, Regexp):
        return _text_test(condition.left, regexp_matcher(condition.pattern))
    if isinstance(condition, IsType):
        fetch, kind, negated = _fetcher(condition.left), condition.kind, condition.negated
        return lambda frame, first: _is_type(kind, fetch(frame, first)) != negated
    if isinstance(condition, Truth):
        fetch = _fetcher(condition.operand)
        return lambda frame, first: truth(fetch(frame, first))
    if isinstance(condition, Not):
        inner = compile_condition(condition.item)
        return lambda frame, first: not inner(frame, first)
    parts = tuple(compile_condition(item) for item in condition.items)
    if isinstance(condition, And):
        return lambda frame, first: all(p(frame, first) for p in parts)
    assert isinstance(condition, Or)
    return lambda frame, first: any(p(frame, first) for p in parts)


def compile_expression(expression: Expression) -> Callable[[Frame, Frame | None], Any]:
    """An assignment's value on a frame: the constant, the keyword's value (:data:`MISSING` when the
    frame lacks it), or the condition's truth."""
    if isinstance(expression, Literal):
        value = expression.value
        return lambda frame, first: value
    if isinstance(expression, Key):
        fetch = _fetcher(expression)

        def copy(frame: Frame, first: Frame | None) -> Any:
            found = fetch(frame, first)
            return MISSING if found is None else found

        return copy
    return compile_condition(expression)


def keys_of(condition: Expression, of_input: bool = False) -> set[str]:
    """Keywords a condition (or an assignment's value) reads from the frame (or, with ``of_input``,
    from the first frame)."""
    if isinstance(condition, (Key, Literal)):
        operands: tuple[Operand, ...] = (condition,)
    elif isinstance(condition, Compare):
        operands = (condition.left, condition.right)
    elif isinstance(condition, (Like, Regexp, IsType)):
        operands = (condition.left,)
    elif isinstance(condition, Truth):
        operands = (condition.operand,)
    elif isinstance(condition, Not):
        return keys_of(condition.item, of_input)
    else:
        return set().union(*(keys_of(item, of_input) for item in condition.items))
    return {o.name for o in operands if isinstance(o, Key) and o.of_input == of_input and o.name not in _SIGNALS}
