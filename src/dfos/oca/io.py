"""Reading rule files from disk into one :class:`~dfos.oca.syntax.RuleSet`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from dfos.oca.parser import RuleSyntaxError, merge, parse_rules
from dfos.oca.syntax import RuleSet

__all__ = ["load_rules"]


def load_rules(paths: Iterable[Path], label: Callable[[Path], str] = str) -> RuleSet:
    """Parse rule files in order and merge them (actions of the same name are combined).

    ``label`` gives the name a file has in messages and explanations (default: its path).
    """
    sets = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise RuleSyntaxError(f"{path}: cannot read the rule file ({exc.strerror})") from None
        sets.append(parse_rules(text, label(path)))
    if not sets:
        raise RuleSyntaxError("no rule file given")
    return merge(sets)
