"""``regexp`` patterns, matched in linear time.

OCA's ``KEY regexp "pattern"`` holds when the pattern is found anywhere in the value (as POSIX
``regexec`` does; anchor it with ``^`` and ``$`` to match the whole value).  Patterns are POSIX
extended regular expressions (``[wn]``, ``(a|b)+``, ``{2,3}``, ``[[:digit:]]``); the Perl classes
that Java-based ESO tools also accept (``\\d``, ``\\w``, ``\\s``, ``\\b``) work too.

Matching uses RE2 (``google-re2``), an automaton without backtracking: the time is linear in
the value's length whatever the pattern, so no rule file can make classification hang
(``(a*)*b`` against 5,000 ``a`` answers in microseconds).  Back-references, which need
backtracking, are refused when the rule file is read.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import re2

__all__ = ["MAX_PATTERN", "RegexpError", "compile_regexp", "regexp_matcher"]

#: The longest pattern accepted (ESO's longest is a few dozen characters).
MAX_PATTERN = 4096


class RegexpError(ValueError):
    """A pattern RE2 cannot compile; the message says why."""


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # the error becomes the rule file's message, not a line on stderr
    options.perl_classes = True
    options.word_boundary = True
    options.never_capture = True
    return options


_OPTIONS = _options()


@lru_cache(maxsize=4096)
def compile_regexp(pattern: str) -> re2._Regexp:
    """The compiled pattern; :class:`RegexpError` when it is not one."""
    if len(pattern) > MAX_PATTERN:
        raise RegexpError(f"longer than {MAX_PATTERN} characters")
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        text = exc.args[0] if exc.args else exc
        raise RegexpError(text.decode(errors="replace") if isinstance(text, bytes) else str(text)) from None


def regexp_matcher(pattern: str) -> Callable[[str], bool]:
    """A predicate telling whether the pattern is found in a value."""
    search = compile_regexp(pattern).search
    return lambda value: search(value) is not None
