"""The checks a configuration key declares beside its type (:func:`dfos.config.settings._key`).

A check takes the key's name and its value (after the type's conversion; for a choice key, the text
as written) and returns what is wrong in one line (``N_DFO_HDR must be at least 1, not 0``), or None.
The loader (:mod:`dfos.config.load`) puts where the value came from in front and raises
:class:`~dfos.errors.ConfigError`.  Checks are pure: no file is read, nothing is imported that the
key does not need.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

__all__ = ["Check", "a_directory", "an_instrument_name", "finite", "known", "must", "one_of", "parses",
           "pattern_parses", "science_pattern_parses", "timestamp_or_empty"]

#: ``(key name, value) -> what is wrong`` (one line, starting with the key's name), or None.
Check: TypeAlias = Callable[[str, Any], "str | None"]


def must(ok: Callable[[Any], bool], wording: str, show: Callable[[Any], str] = str) -> Check:
    """``NAME must be <wording>, not <value>`` unless ``ok(value)``."""

    def check(name: str, value: Any) -> str | None:
        return None if ok(value) else f"{name} must be {wording}, not {show(value)}"

    return check


def finite(low: float, high: float, *, open_low: bool = False, open_high: bool = False) -> Callable[[float], bool]:
    """A predicate: a finite number between ``low`` and ``high`` (either end left out when open)."""

    def ok(value: float) -> bool:
        above = value > low if open_low else value >= low
        below = value < high if open_high else value <= high
        return math.isfinite(value) and above and below

    return ok


def _choices_text(choices: Sequence[str]) -> str:
    return f"{', '.join(choices[:-1])} or {choices[-1]}" if len(choices) > 1 else "".join(choices)


def one_of(choices: Sequence[str]) -> Check:
    """One of a fixed set of values, in any case: ``NAME must be A, B or C, not 'x'``."""
    return known(lambda text: text.casefold() in {c.casefold() for c in choices}, lambda: choices)


def known(is_known: Callable[[str], bool], names: Callable[[], Sequence[str]]) -> Check:
    """One of an open set (plugin names); ``names`` is asked only for the refusal."""

    def check(name: str, value: Any) -> str | None:
        return None if is_known(value) else f"{name} must be {_choices_text(names())}, not {value!r}"

    return check


def parses(parse: Callable[[Any], object], *errors: type[Exception]) -> Check:
    """A value ``parse`` accepts: ``NAME: <why not>`` when it raises ValueError (or one of ``errors``)."""

    caught: tuple[type[Exception], ...] = (ValueError, *errors)

    def check(name: str, value: Any) -> str | None:
        try:
            parse(value)
        except caught as exc:
            return f"{name}: {exc}"
        return None

    return check


def timestamp_or_empty(name: str, value: Any) -> str | None:
    """Empty, or a timestamp (``NOW``)."""
    if not value:
        return None
    from dfos.dates import parse_timestamp
    from dfos.errors import InvalidDate

    return parses(parse_timestamp, InvalidDate)(name, value)


def pattern_parses(_name: str, value: Any) -> str | None:
    """A name pattern of certified calibrations (``MCAL_NAME_PATTERN``); the pattern's own message."""
    from dfos.errors import FormatError
    from dfos.naming import pattern_regex

    try:
        pattern_regex(value)
    except FormatError as exc:
        return exc.message
    return None


def science_pattern_parses(_name: str, value: Any) -> str | None:
    """A name pattern of certified science products (``SCI_NAME_PATTERN``); the pattern's own message."""
    from dfos.errors import FormatError
    from dfos.naming import science_pattern_regex

    try:
        science_pattern_regex(value)
    except FormatError as exc:
        return exc.message
    return None


def a_directory(name: str, value: Any) -> str | None:
    """A directory key is never empty (it would be the workspace root)."""
    return None if value else f"{name} must name a directory, not be empty"


def an_instrument_name(name: str, value: Any) -> str | None:
    """A name an instrument plugin can have (which ones exist is the registry's business)."""
    return None if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", value) else f"{name} {value!r} is not an instrument name"
