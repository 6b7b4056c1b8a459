"""Condition semantics: missing keywords, numbers versus strings, like, inputFile, SIG.*."""

from __future__ import annotations

from typing import Any

import pytest

from dfos.oca.evaluate import compile_condition, keys_of, like_regex
from dfos.oca.parser import parse_rules


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


def test_like_regex_is_anchored() -> None:
    assert like_regex("%BIAS").fullmatch("MASTER_BIAS")
    assert not like_regex("%BIAS").fullmatch("BIAS_BLUE")
