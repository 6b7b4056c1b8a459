"""The OCA rule values: what they derive (a product's category, an action's priority, assigned constants,
statement counts) and how they are written back (error messages and ``dfos explain`` show conditions)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dfos.oca.parser import parse_rules
from dfos.oca.syntax import (
    Action,
    And,
    Assignment,
    ClassifyRule,
    Compare,
    Condition,
    Counts,
    IsType,
    Key,
    Like,
    Literal,
    Not,
    Or,
    ProductSpec,
    Regexp,
    RuleSet,
    Source,
    Truth,
)


def test_a_source_reads_file_line_column() -> None:
    assert str(Source("uves.oca", 12, 3)) == "uves.oca:12:3"


def test_keys_and_literals_are_written_as_in_a_rule_file() -> None:
    assert str(Key("DPR.TYPE")) == "DPR.TYPE"
    assert str(Key("DET.CHIPS", of_input=True)) == "inputFile.DET.CHIPS"
    assert str(Literal(True)) == "T" and str(Literal(False)) == "F"
    assert str(Literal("BIAS")) == '"BIAS"'
    assert str(Literal(3.0)) == "3" and str(Literal(2.5)) == "2.5"


def test_conditions_are_written_with_the_brackets_their_precedence_needs() -> None:
    bias = Compare(Key("DPR.TYPE"), "==", Literal("BIAS"))
    flat = Like(Key("DPR.TYPE"), "%FLAT%")
    either = Or((bias, flat))
    assert str(And((either, Regexp(Key("INS.MODE"), "^RED")))) == (
        '(DPR.TYPE == "BIAS" or DPR.TYPE like "%FLAT%") and INS.MODE regexp "^RED"')
    assert str(Or((And((bias, flat)), bias))) == 'DPR.TYPE == "BIAS" and DPR.TYPE like "%FLAT%" or DPR.TYPE == "BIAS"'
    assert str(Not(either)) == 'not (DPR.TYPE == "BIAS" or DPR.TYPE like "%FLAT%")'
    assert str(IsType(Key("EXPTIME"), "number")) == "EXPTIME is number"
    assert str(IsType(Key("EXPTIME"), "defined", negated=True)) == "EXPTIME is not defined"
    assert str(Truth(Key("INS.OPTI1.FILTER"))) == "INS.OPTI1.FILTER"


def test_an_assignment_gives_its_constant_only_when_it_assigns_one() -> None:
    assert Assignment("DO.CLASS", Literal("BIAS_BLUE")).value == "BIAS_BLUE"
    assert Assignment("NEXP", Literal(5.0)).value == 5.0
    assert Assignment("FLAG", Literal(False)).value is False
    assert Assignment("TPL", Key("TPL.ID")).value is None  # another keyword's value: known per frame only
    assert Assignment("RED", Compare(Key("INS.PATH"), "==", Literal("RED"))).value is None
    assert str(Assignment("DO.CLASS", Literal("BIAS_BLUE"))) == 'DO.CLASS = "BIAS_BLUE"'


def test_a_products_category_is_its_pro_catg_constant_else_its_name() -> None:
    assert ProductSpec("MASTER_BIAS_BLUE").catg == "MASTER_BIAS_BLUE"  # an entry of a dfos product list
    reflex = ProductSpec("mbias", (Assignment("PRO.TYPE", Literal("REDUCED")),
                                   Assignment("PRO.CATG", Literal("MASTER_BIAS_RED"))))
    assert reflex.catg == "MASTER_BIAS_RED"
    computed = ProductSpec("mbias", (Assignment("PRO.CATG", Key("DPR.TYPE")),))
    assert computed.catg == "mbias"  # no constant to read: the name stands
    numeric = ProductSpec("mbias", (Assignment("PRO.CATG", Literal(1.0)),))
    assert numeric.catg == "mbias"


def test_an_actions_priority_is_its_numeric_setting_else_zero() -> None:
    assert Action("A").priority == 0.0
    assert Action("A", properties=(("PRIORITY", Literal(30.0)),)).priority == 30.0
    assert Action("A", properties=(("OTHER", Literal(5.0)), ("PRIORITY", Literal(7.0)))).priority == 7.0
    assert Action("A", properties=(("PRIORITY", Literal("high")),)).priority == 0.0
    assert Action("A", properties=(("PRIORITY", Key("X")),)).priority == 0.0


def test_the_parser_fills_priority_and_products_the_values_read() -> None:
    rules = parse_rules('action FOO { priority = 30; product P { PRO.CATG = "MB"; } product Q { } recipe r; }\n')
    action = rules.actions["FOO"]
    assert action.priority == 30.0
    assert [p.catg for p in action.products] == ["MB", "Q"]


def test_counts_add_field_by_field() -> None:
    assert Counts(1, 2, 3, 4, 5) + Counts(10, 20, 30, 40, 50) == Counts(11, 22, 33, 44, 55)
    assert Counts() + Counts(0, 1) == Counts(organise=1)
    assert RuleSet().counts == Counts() and RuleSet().actions == {}


def test_rule_values_are_immutable() -> None:
    rule = ClassifyRule(Truth(Literal(True)), (), Source("f", 1, 1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.condition = Truth(Literal(False))  # type: ignore[misc]
    assert RuleSet().actions is not RuleSet().actions  # no shared default between rule sets


# Conditions as rule files write them: keys of dotted upper-case words (not T or F, which are truth
# values), strings without quotes, numbers that ``%g`` writes exactly, And/Or not nested in themselves
# (the parser flattens ``a and b and c`` into one And).
_WORD = st.from_regex(r"[A-Z][A-Z0-9]{0,5}", fullmatch=True).filter(lambda w: w not in ("T", "F"))
_KEYS = st.builds(Key, st.lists(_WORD, min_size=1, max_size=3).map(".".join), st.booleans())
_TEXT = st.from_regex(r"[A-Za-z0-9_% .*^$-]{0,12}", fullmatch=True)
# Regular expressions that compile (an invalid one, e.g. ``*``, is refused at parse, as it should be).
_PATTERNS = st.from_regex(r"\^?[A-Za-z0-9_ ]{0,6}(\.\*)?[A-Za-z0-9_]{0,4}\$?", fullmatch=True)
_NUMBERS = st.integers(0, 99999).map(float) | st.integers(0, 999).map(lambda n: n + 0.5)
_OPERANDS = _KEYS | st.builds(Literal, _TEXT) | st.builds(Literal, _NUMBERS)
_LEAVES: st.SearchStrategy[Condition] = st.one_of(
    st.builds(Compare, _KEYS, st.sampled_from(["==", "!=", "<", ">", "<=", ">=", "?="]), _OPERANDS),
    st.builds(Like, _KEYS, _TEXT),
    st.builds(Regexp, _KEYS, _PATTERNS),
    st.builds(IsType, _KEYS, st.sampled_from(["string", "number", "boolean", "defined", "undefined"]),
              st.booleans()),
    st.builds(Truth, _KEYS | st.builds(Literal, st.booleans())),
)


def _nest(inner: st.SearchStrategy[Condition]) -> st.SearchStrategy[Condition]:
    items = st.lists(inner, min_size=2, max_size=3)
    return st.one_of(
        st.builds(Not, inner),
        items.filter(lambda xs: not any(isinstance(x, And) for x in xs)).map(lambda xs: And(tuple(xs))),
        items.filter(lambda xs: not any(isinstance(x, Or) for x in xs)).map(lambda xs: Or(tuple(xs))),
    )


@settings(max_examples=200, deadline=None)
@given(st.recursive(_LEAVES, _nest, max_leaves=8))
def test_a_written_condition_reads_back_as_itself(condition: Condition) -> None:
    rules = parse_rules(f'if {condition} then {{ DO.CLASS = "X"; }}\n')
    assert rules.classify[0].condition == condition
