"""Classification: apply an OCA rule set's ``if ... then { KEY = value; }`` blocks to frames.

Rules run in file order on the frame's keywords plus what earlier true rules
assigned; a later true rule overrides an earlier assignment.  An assignment gives a
constant, another keyword's value (``DO.CATG = PRO.CATG;``: nothing when the frame
lacks it) or a condition's truth; the tags assigned (``DO.CATG``, ``REFLEX.CATG``,
``RAW.TYPE``, any name) are keywords for the rules after.  The result only
depends on the keywords the rules read, so frames that agree on those share one
evaluation (a cache keyed by their values): a night of thousands of frames of a
few setups costs a few dozen rule passes.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from dfos.association.frames import Frame
from dfos.oca.evaluate import MISSING, Predicate, compile_condition, compile_expression, keys_of
from dfos.oca.syntax import ClassifyRule

__all__ = ["Classifier"]


class Classifier:
    """Compiled classification rules with a cache."""

    def __init__(self, rules: Iterable[ClassifyRule]) -> None:
        self.rules: list[tuple[Predicate, tuple[tuple[str, Any], ...]]] = []
        read: set[str] = set()
        for rule in rules:
            values = tuple((a.key, compile_expression(a.expression)) for a in rule.assignments)
            self.rules.append((compile_condition(rule.condition), values))
            read |= keys_of(rule.condition)
            for assignment in rule.assignments:
                read |= keys_of(assignment.expression)
        self.keys = tuple(sorted(read))
        self._cache: dict[tuple[Any, ...], dict[str, Any]] = {}

    def assign(self, header: Mapping[str, Any]) -> dict[str, Any]:
        """The keys classification assigns to a frame with this header."""
        signature = tuple(_hashable(header.get(k)) for k in self.keys)
        cached = self._cache.get(signature)
        if cached is None:
            assigned: dict[str, Any] = {}
            view = ChainMap(assigned, dict(header))
            for predicate, assignments in self.rules:
                if predicate(view, None):
                    for key, value_of in assignments:
                        value = value_of(view, None)
                        if value is not MISSING:
                            assigned[key] = value
            cached = self._cache[signature] = assigned
        return dict(cached)

    def classify(self, frame: Frame) -> Frame:
        """The frame with its classification filled in.

        As in Gasgano, a product that no rule gives a DO.CATG is classified by its PRO.CATG.
        """
        classes = self.assign(frame.header)
        if "DO.CATG" not in classes and isinstance(frame.header.get("PRO.CATG"), str):
            classes["DO.CATG"] = frame.header["PRO.CATG"]
        return replace(frame, classes=classes)

    def classify_virtual(self, frame: Frame) -> Frame:
        """A virtual product classified: what its header holds (the PRO.CATG, REFLEX.CATG ... its ``product``
        block declares) wins over what the rules assign, so ``if (T) then { REFLEX.CATG = "UNDEFINED"; }`` or
        ``REFLEX.CATG = PRO.CATG;`` cannot undo a block's ``REFLEX.CATG = "MASTER_FLAT";``."""
        classified = self.classify(frame)
        header = frame.header
        return replace(classified, classes={k: header.get(k, v) for k, v in classified.classes.items()})


def _hashable(value: Any) -> Any:
    """A cache key that keeps 1, 1.0, True and "1" apart (rules may tell them apart)."""
    plain = value if isinstance(value, (str, int, float, bool)) or value is None else str(value)
    return (type(plain).__name__, plain)
