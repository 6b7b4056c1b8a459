"""Fuzzing the OCA ``like`` matcher: it agrees with a slow reference (the pattern translated to a regular
expression) on short strings, and a rule file's like pattern parses or raises FormatError."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from dfos.errors import FormatError
from dfos.oca.evaluate import compile_condition, like_matcher
from dfos.oca.parser import parse_rules
from fuzzing import fuzz

#: A small alphabet makes matches likely; the wildcards and regex characters are in it on purpose.
ALPHABET = "ab%_.*\\\n"


def reference(pattern: str, value: str) -> bool:
    """The slow reference: ``%`` is ``.*``, ``_`` is ``.``, all else literal (fnmatch-like translation)."""
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


@given(st.text(ALPHABET, max_size=10), st.text(ALPHABET.replace("%", "").replace("_", ""), max_size=12))
@fuzz
def test_like_agrees_with_the_reference(pattern: str, value: str) -> None:
    assert like_matcher(pattern)(value) is reference(pattern, value)


@given(st.text(ALPHABET, max_size=8), st.text(st.characters(codec="utf-8"), max_size=12))
@fuzz
def test_like_agrees_with_the_reference_on_any_text(pattern: str, value: str) -> None:
    assert like_matcher(pattern)(value) is reference(pattern, value)


@given(st.text(max_size=40))
@fuzz
def test_a_like_pattern_in_a_rule_parses_or_is_a_format_error(pattern: str) -> None:
    try:
        rules = parse_rules(f'if OBJECT like "{pattern}" then {{ X = 1; }}', "fuzz.oca")
    except FormatError:
        return
    predicate = compile_condition(rules.classify[0].condition)
    assert predicate({"OBJECT": "a" * 60}, None) in (True, False)
