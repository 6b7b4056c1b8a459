"""Thresholds and scores as pure functions."""

from __future__ import annotations

import pytest

from dfos.errors import ConfigError
from dfos.qc.scoring import Limits, Threshold, find_threshold, limits, parse_thresholds, score, verdict


def test_fixed_and_one_sided_limits() -> None:
    assert score(5.0, Limits(1.0, 5.0, "fixed")) == 0
    assert score(5.01, Limits(1.0, 5.0, "fixed")) == 1
    assert score(-100.0, Limits(None, 5.0, "fixed")) == 0
    assert score(None, Limits(1.0, 5.0, "fixed")) is None
    assert score(float("nan"), Limits(1.0, 5.0, "fixed")) is None
    assert score(3.0, None) is None


def test_statistical_limits_need_history() -> None:
    rule = Threshold("QC X", method="stat", k=3.0, last=5, min_values=3)
    assert limits(rule, [10.0, 11.0]) is None  # too few certified values: grey
    bounds = limits(rule, [100.0, 10.0, 11.0, 12.0, 9.0, 10.0])  # only the last 5 count: the 100 is gone
    assert bounds == Limits(10.0 - 3.0, 10.0 + 3.0, "stat")  # median 10, MAD 1


def test_the_first_matching_threshold_wins() -> None:
    rules = parse_thresholds('[[threshold]]\nparam = "QC BIAS LEVEL"\npro_catg = "MASTER_BIAS_BLUE"\nlow = 1.0\n'
                             '[[threshold]]\nparam = "QC BIAS *"\nhigh = 2.0\n')
    assert find_threshold(rules, "QC BIAS LEVEL", "MASTER_BIAS_BLUE", "s") is rules[0]
    assert find_threshold(rules, "QC BIAS LEVEL", "MASTER_BIAS_REDL", "s") is rules[1]
    assert find_threshold(rules, "QC DARK LEVEL", "MASTER_DARK", "s") is None


def test_verdicts() -> None:
    assert verdict([0, 0, None]) == (2, 0, "green")
    assert verdict([0, 1, None]) == (2, 1, "red")
    assert verdict([None, None]) == (0, 0, "grey")
    assert verdict([]) == (0, 0, "grey")


@pytest.mark.parametrize(("text", "message"), [
    ('[[threshold]]\nlow = 1.0\n', "'param'"),
    ('[[threshold]]\nparam = "QC X"\n', "needs low and/or high"),
    ('[[threshold]]\nparam = "QC X"\nlow = "one"\n', "low must be a number"),
    ('[[threshold]]\nparam = "QC X"\nmethod = "magic"\nlow = 1.0\n', "method must be"),
    ('[[threshold]]\nparam = "QC X"\nlow = 1.0\ncolour = "red"\n', "unknown key 'colour'"),
    ('[limits]\nx = 1\n', "unknown table 'limits'"),
    ('[[threshold]\n', "thresholds"),
])
def test_mistakes_are_named(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_thresholds(text, "thresholds")


def test_shipped_thresholds_parse() -> None:
    from importlib.resources import files

    for name in ("UVES.toml", "GIRAFFE.toml"):
        shipped = files("dfos.qc.thresholds").joinpath(name)
        assert any(t.health for t in parse_thresholds(shipped.read_text(), name))
