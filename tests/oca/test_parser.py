"""The OCA parser: ESO's shipped rule files, the grammar, and errors with file:line:col."""

from __future__ import annotations

import glob
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dfos.errors import FormatError
from dfos.oca.io import load_rules
from dfos.oca.parser import RuleSyntaxError, merge, parse_rules
from dfos.oca.syntax import And, Compare, Key, Like, Literal, Match, Not, Or

DEBIAN_OCA = sorted(glob.glob("/usr/share/cpl-plugins/*/gasgano/config/*.oca"))


def test_the_debian_rule_files_are_installed() -> None:
    pipelines = {Path(p).parts[4].split("-")[0] for p in DEBIAN_OCA}
    assert {"uves", "giraf"} <= pipelines, "install cpl-plugin-uves and cpl-plugin-giraf ('make test' does)"


@pytest.mark.parametrize("path", DEBIAN_OCA)
def test_every_debian_rule_file_parses(path: str) -> None:
    rules = parse_rules(Path(path).read_text(), path)
    assert rules.classify and rules.organise and rules.actions
    for action in rules.actions.values():
        for select in action.selects:
            assert select.tag and select.pool in ("calibFiles", "rawFiles", "inputFiles")


def test_uves_rules_have_the_expected_shape() -> None:
    path = next(p for p in DEBIAN_OCA if "/uves-" in p)
    rules = parse_rules(Path(path).read_text(), path)
    mdark = rules.actions["UVES_MASTER_DARK_B"]
    assert mdark.recipe == "uves_cal_mdark"
    assert [(s.tag, s.min_ret, s.max_ret) for s in mdark.selects] == [("MASTER_BIAS_BLUE", 1, 1)]
    bias = next(r for r in rules.organise if r.action == "UVES_MASTER_BIAS_B")
    assert bias.per_template and not bias.per_frame
    fibre = next(r for r in rules.organise if r.action == "FLAMES_CAL_FIBORDPOS_R" and r.group_by)
    assert fibre.min_frames == 3 and (fibre.event, fibre.tag) == ("TPL_A", "tpl")
    assert fibre.group_by[-1] == "TPL.START"


GRAMMAR = """
// line comment
/* block
   comment */
if DPR.CATG == "CALIB" and (DPR.TYPE like "%BIAS%" or not DET.CHIPS >= 2) then
{
  DO.CATG = "BIAS_BLUE"; RAW.TYPE = "BIAS";
}
minRet = 2;
select execute(MBIAS) from inputFiles where SIG.TEMPLATE == 1 and LF.DO.CATG == "BIAS_BLUE"
   group by DET.READ.SPEED, INS.MODE as (BIAS_EVENT, bias);
action MBIAS {
  minRet = 0; maxRet = 1;
  select file as MASTER_BIAS from calibFiles where PRO.CATG == "MASTER_BIAS"
     and inputFile.MJD-OBS > MJD-OBS using PREVIOUS within 1, 7.5 days;
  product MASTER_BIAS, BAD_PIXEL_MAP;
  recipe uves_cal_mbias { "--stack_method=median"; "--x=1"; }
}
"""


def test_grammar() -> None:
    rules = parse_rules(GRAMMAR, "g.oca")
    (rule,) = rules.classify
    assert [(a.key, a.value) for a in rule.assignments] == [("DO.CATG", "BIAS_BLUE"), ("RAW.TYPE", "BIAS")]
    assert rule.source.line == 5
    cond = rule.condition
    assert isinstance(cond, And)
    assert cond.items[0] == Compare(Key("DPR.CATG"), "==", Literal("CALIB"))
    inner = cond.items[1]
    assert isinstance(inner, Or)
    assert inner.items[0] == Like(Key("DPR.TYPE"), "%BIAS%")
    assert inner.items[1] == Not(Compare(Key("DET.CHIPS"), ">=", Literal(2.0)))
    (organise,) = rules.organise
    assert (organise.min_frames, organise.per_template, organise.group_by) == (2, True, ("DET.READ.SPEED", "INS.MODE"))
    assert (organise.event, organise.tag) == ("BIAS_EVENT", "bias")
    action = rules.actions["MBIAS"]
    (select,) = action.selects
    assert (select.min_ret, select.max_ret, select.match, select.windows) == (0, 1, Match.PREVIOUS, (1.0, 7.5))
    assert Compare(Key("MJD-OBS", of_input=True), ">", Key("MJD-OBS")) in select.condition.items  # type: ignore[union-attr]
    assert [p.catg for p in action.products] == ["MASTER_BIAS", "BAD_PIXEL_MAP"]
    assert (action.recipe, action.params) == ("uves_cal_mbias", ("--stack_method=median", "--x=1"))


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ('if DPR.CATG == "CALIB" { DO.CATG = "X"; }', "1:24", "expected 'then'"),
        ('if DPR.CATG == then { }', "1:16", "a keyword, string or number"),
        ('if DPR.CATG = "X" then { }', "1:13", "expected 'then'"),
        ('if "X" then { }', "1:8", "a comparison"),
        ("\n\nselect execute(A) from somewhere where X == 1;", "3:24", "'inputFiles'"),
        ('action A {\n  select file as T from calibFiles where X == 1 using SOON;\n}', "2:55", "CLOSEST"),
        ('if X == "unterminated then { }', "1:9", "unterminated string"),
        ("action A { recipe r { --p; } }", "1:23", "unexpected character"),
        ("action A { recipe r { p; } }", "1:23", "parameter string"),
        ("/* never closed", "1:1", "unterminated /* comment"),
        ("if X == 1 then { A = 1; }\n@", "2:1", "unexpected character"),
        ("action A {", "1:11", "end of file"),
    ],
)
def test_errors_name_file_line_and_column(text: str, where: str, message: str) -> None:
    with pytest.raises(RuleSyntaxError) as err:
        parse_rules(text, "bad.oca")
    assert str(err.value).startswith(f"bad.oca:{where}: ")
    assert message in str(err.value)


def test_actions_of_the_same_name_merge_across_files() -> None:
    eso = parse_rules('action A { minRet = 1; maxRet = 1; select file as B from calibFiles where X == 1;'
                      ' recipe a_recipe; }', "eso.oca")
    products = parse_rules("action A { product MASTER_A; }", "map.oca")
    merged = merge([eso, products]).actions["A"]
    assert (merged.recipe, [p.catg for p in merged.products], len(merged.selects)) == ("a_recipe", ["MASTER_A"], 1)


def test_deep_nesting_is_a_syntax_error_not_a_crash() -> None:
    deep = "if " + "(" * 1000 + "A == 1" + ")" * 1000 + " then { X = 1; }"
    with pytest.raises(RuleSyntaxError, match="nested deeper than 100 levels"):
        parse_rules(deep, "deep.oca")
    with pytest.raises(RuleSyntaxError, match="nested deeper"):
        parse_rules("if " + "not " * 5000 + "A == 1 then { X = 1; }", "deep.oca")


def test_names_and_numbers_are_strict() -> None:
    with pytest.raises(RuleSyntaxError):  # 'MJD-OBS-7' is not a name: no arithmetic in OCA
        parse_rules("if inputFile.MJD-OBS-7 > MJD-OBS then { X = 1; }")
    with pytest.raises(RuleSyntaxError, match="a finite number"):
        parse_rules("action A { select file as T from calibFiles where X == 1 using CLOSEST within 1e400 days; }")
    rules = parse_rules("if MJD-OBS > -1.5e3 and DET.CHIPS == 2 then { X = 1; }")
    assert str(rules.classify[0].condition) == "MJD-OBS > -1500 and DET.CHIPS == 2"


def test_a_pending_minret_applies_to_the_next_statement_only() -> None:
    rules = parse_rules("minRet = 3;\naction A { recipe r; }\nselect execute(A) from inputFiles where X == 1;")
    assert rules.organise[0].min_frames == 1


@contextmanager
def hang_guard(seconds: int) -> Iterator[None]:
    """Turn a hang into a failure (generous: only a quadratic or exponential run reaches it)."""
    def hung(*_: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_many_blocks_of_one_action_merge_in_linear_time() -> None:
    # each block of action A added its products to a growing tuple: 40,000 blocks took 126 s
    blocks = [f"action A {{ product P{i}; select file as T{i} from calibFiles where X == {i}; }}\n"
              for i in range(40_000)]
    with hang_guard(60):
        action = parse_rules("".join(blocks), "many.oca").actions["A"]
        merged = merge([parse_rules("".join(blocks[:20_000]), "a.oca"), parse_rules("".join(blocks[20_000:]), "b.oca")])
    assert len(action.products) == len(action.selects) == 40_000
    assert merged.actions["A"].products == action.products
    assert [s.tag for s in merged.actions["A"].selects] == [s.tag for s in action.selects]


def test_long_inputs_and_deep_nesting_are_refused_quickly() -> None:
    with hang_guard(60):
        for text in ("(" * 300_000, "if " + "not " * 300_000, "1" * 300_000 + "a", "/*" + "x" * 300_000,
                     'if X == "' + "x" * 300_000, "if " + " and ".join(["A == 1"] * 30_000) + " then {"):
            with pytest.raises(RuleSyntaxError):
                parse_rules(text, "long.oca")


def test_rule_files_that_are_not_utf8_text_are_format_errors(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.oca"
    bad.write_bytes('// règle\nif X == "é" then { Y = 1; }\n'.encode("latin-1"))
    with pytest.raises(RuleSyntaxError, match=rf"^{bad}:1: byte 0x[0-9a-f]{{2}} at offset \d+ is not UTF-8 text"):
        load_rules([bad])
    with pytest.raises(RuleSyntaxError, match="cannot read the rule file"):
        load_rules([tmp_path])
    assert isinstance(RuleSyntaxError("x"), FormatError) and RuleSyntaxError.exit_code == 2
