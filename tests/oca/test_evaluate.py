"""Condition semantics: missing keywords, numbers versus strings, like, inputFile, SIG.*."""

from __future__ import annotations

from typing import Any

import pytest

from dfos.oca.evaluate import compile_condition, keys_of, like_matcher
from dfos.oca.parser import RuleSyntaxError, parse_rules


def check(text: str, frame: dict[str, Any], first: dict[str, Any] | None = None) -> bool:
    rules = parse_rules(f"if {text} then {{ X = 1; }}")
    return compile_condition(rules.classify[0].condition)(frame, first)


@pytest.mark.parametrize(
    ("condition", "frame", "expected"),
    [
        ('DPR.TYPE == "BIAS"', {"DPR.TYPE": "BIAS"}, True),
        ('DPR.TYPE == "bias"', {"DPR.TYPE": "BIAS"}, False),  # case matters
        ('DPR.TYPE != "BIAS"', {}, False),  # a missing keyword makes every comparison false
        ('DPR.TYPE like "%BIAS%"', {}, False),
        ('not DPR.TYPE == "BIAS"', {}, True),
        ("DET.CHIPS == 1", {"DET.CHIPS": 1}, True),
        ("DET.CHIPS == 1.0", {"DET.CHIPS": 1}, True),
        ('DET.CHIPS == "1"', {"DET.CHIPS": 1}, True),  # a numeric string compares as a number
        ('DET.CHIPS == "one"', {"DET.CHIPS": 1}, False),
        ("INS.GRAT1.WLEN >= 390", {"INS.GRAT1.WLEN": 390.0}, True),
        ("INS.GRAT1.WLEN < 390", {"INS.GRAT1.WLEN": 390.0}, False),
        ('DPR.TYPE like "%LAMP,FLAT%"', {"DPR.TYPE": "LAMP,FLAT,ODD"}, True),
        ('DPR.TYPE like "LAMP_FLAT"', {"DPR.TYPE": "LAMP,FLAT"}, True),  # _ is one character
        ('DPR.TYPE like "LAMP"', {"DPR.TYPE": "LAMP,FLAT"}, False),  # whole value
        ('DPR.TYPE like "%test%"', {"DPR.TYPE": "TEST"}, False),
        ('DPR.TYPE like "%.*%"', {"DPR.TYPE": "LAMP"}, False),  # regex characters are literal
        ("SIG.TEMPLATE == 1", {}, True),
        ('A == "x" or B == "y" and C == "z"', {"B": "y", "C": "z"}, True),  # and binds tighter
        ('(A == "x" or B == "y") and C == "z"', {"A": "x"}, False),
        ("MJD-OBS < 56335.8", {"MJD-OBS": 56335.75}, True),
    ],
)
def test_semantics(condition: str, frame: dict[str, Any], expected: bool) -> None:
    assert check(condition, frame) is expected


def test_input_file_reads_the_first_frame() -> None:
    cond = "inputFile.DET.WIN1.BINX == DET.WIN1.BINX"
    assert check(cond, {"DET.WIN1.BINX": 2}, {"DET.WIN1.BINX": 2}) is True
    assert check(cond, {"DET.WIN1.BINX": 2}, {"DET.WIN1.BINX": 1}) is False
    assert check(cond, {"DET.WIN1.BINX": 2}, None) is False


def test_keys_of() -> None:
    rules = parse_rules('if A == 1 and inputFile.B == C and D like "x" and SIG.FRAME == 1 then { X = 1; }')
    cond = rules.classify[0].condition
    assert keys_of(cond) == {"A", "C", "D"}
    assert keys_of(cond, of_input=True) == {"B"}


def test_like_is_anchored() -> None:
    assert like_matcher("%BIAS")("MASTER_BIAS")
    assert not like_matcher("%BIAS")("BIAS_BLUE")
    assert like_matcher("B%S")("BIAS") and not like_matcher("B%S")("BIASX")
    assert like_matcher("%%")("") and like_matcher("")("") and not like_matcher("")("x")
    assert like_matcher("a%a")("aa") and not like_matcher("a%a")("a")  # pieces never overlap
    assert like_matcher("_%_")("ab") and not like_matcher("_%_")("a")


def _run_with_guard(func: Any, seconds: float = 10.0) -> Any:
    """Run ``func`` in a thread; fail (instead of hanging the suite) when it takes longer than ``seconds``."""
    import threading

    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(func()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: catastrophic backtracking"
    return result[0]


@pytest.mark.parametrize("count", [8, 30, 200])
def test_a_pattern_of_many_wildcards_matches_at_once(count: int) -> None:
    pattern = "%a" * count + "%b"
    assert _run_with_guard(lambda: check(f'OBJECT like "{pattern}"', {"OBJECT": "a" * 60})) is False
    assert _run_with_guard(lambda: check(f'OBJECT like "{pattern}"', {"OBJECT": "a" * 300 + "b"})) is True
    underscored = "%a_" * count + "%b"
    assert _run_with_guard(lambda: like_matcher(underscored)("a" * 5000)) is False


def test_regexp_cannot_backtrack() -> None:
    # "(a+)+b" against a run of "a" is exponential for a backtracking engine; RE2 answers at once
    assert _run_with_guard(lambda: check('OBJECT regexp "(a+)+b"', {"OBJECT": "a" * 5000})) is False
    assert _run_with_guard(lambda: check('OBJECT regexp "^(a+)+b$"', {"OBJECT": "a" * 5000 + "b"})) is True
    with pytest.raises(RuleSyntaxError, match="not a POSIX extended regular expression"):
        parse_rules('if OBJECT regexp "(a)\\1" then { X = 1; }')
