"""Reading rule files from disk into one :class:`~dfos.oca.syntax.RuleSet`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from dfos.errors import FormatError
from dfos.fsutil import decode_text
from dfos.oca.parser import RuleSyntaxError, merge, parse_rules
from dfos.oca.syntax import RuleSet

__all__ = ["MAX_RULE_BYTES", "load_rules", "read_rule_text"]

#: The largest rule file dfos reads (ESO's biggest is about 100 kB).
MAX_RULE_BYTES = 16 * 1024 * 1024


def read_rule_text(path: Path, label: str | None = None) -> str:
    """The text of a rule file; :class:`RuleSyntaxError` (exit 2) naming the file when it
    cannot be read, is a directory, is too big, or is not UTF-8 (naming the line of the first bad byte)."""
    name = label or str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_RULE_BYTES + 1)
    except OSError as exc:
        raise RuleSyntaxError(f"{name}: cannot read the rule file ({exc.strerror})") from None
    if len(data) > MAX_RULE_BYTES:
        raise RuleSyntaxError(f"{name}: larger than {MAX_RULE_BYTES} bytes; is this a rule file?")
    try:
        return decode_text(data, name, "save the rule file as UTF-8")
    except FormatError as exc:
        raise RuleSyntaxError(exc.message) from None


def load_rules(paths: Iterable[Path], label: Callable[[Path], str] = str) -> RuleSet:
    """Parse rule files in order and merge them (actions of the same name are combined).

    ``label`` gives the name a file has in messages and explanations (default: its path).
    """
    sets = [parse_rules(read_rule_text(path, label(path)), label(path)) for path in paths]
    if not sets:
        raise RuleSyntaxError("no rule file given")
    return merge(sets)
