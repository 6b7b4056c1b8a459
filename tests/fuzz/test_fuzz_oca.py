"""Fuzzing the OCA parser: random text and bytes, mutations of the real rule files (ESO's, installed
with the pipelines, and dfos' own), and rule files generated from the grammar with every construct
(regexp with random patterns, is tests, ?=, T/F, product blocks, keyword and condition assignments, every
pool, comments anywhere).  Contract: parse or raise FormatError (RuleSyntaxError), within the fuzzing
deadline; any other exception is a failure.  What parses is evaluated (classification, organisation,
association selects, product keywords, a whole association) on frames of random values: evaluation never
raises."""

from __future__ import annotations

import glob
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dfos.association.classify import Classifier
from dfos.association.engine import associate
from dfos.association.frames import Frame
from dfos.association.match import Calib
from dfos.errors import FormatError
from dfos.oca.evaluate import compile_condition, compile_expression
from dfos.oca.io import read_rule_text
from dfos.oca.parser import parse_rules
from dfos.oca.syntax import RuleSet
from fuzzing import fuzz
from malformed import mutate, mutations

RULE_FILES = sorted(glob.glob("/usr/share/cpl-plugins/*/gasgano/config/*.oca")
                    + glob.glob(str(Path(__file__).resolve().parents[2] / "src/dfos/rules/*.oca")))
#: OCA's own characters and words, so random text gets past the lexer often.
_PIECES = ["if", "then", "select", "execute", "from", "inputFiles", "where", "group", "by", "as", "action",
           "minRet", "maxRet", "file", "calibFiles", "rawFiles", "recipe", "product", "using", "within", "days",
           "and", "or", "not", "like", "regexp", "is", "string", "number", "boolean", "defined", "undefined",
           "?=", "T", "F", "priority", "PRO.CATG", "REFLEX.CATG", "inputFiles", '"^[[:digit:]]+$"',
           "DPR.CATG", "inputFile.MJD-OBS", "LF.DO.CATG", '"CALIB"', '"%BIAS%"', "1",
           "-1.5e3", "1e999", "==", "!=", "<=", ">", "=", ";", ",", "(", ")", "{", "}", "//", "/*", "*/", "\n", " ",
           '"', "@", "\x00", "\ufffd"]


@cache
def rule_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


def parse_or_format_error(text: str) -> None:
    try:
        parse_rules(text, "fuzz.oca")
    except FormatError as exc:
        assert exc.message.startswith("fuzz.oca:") and "\n" not in exc.message


def test_the_rule_files_are_there() -> None:
    assert len(RULE_FILES) >= 6


@given(st.text(max_size=400))
@fuzz
def test_random_text(text: str) -> None:
    parse_or_format_error(text)


@given(st.lists(st.sampled_from(_PIECES), max_size=120).map(" ".join))
@fuzz
def test_random_oca_words(text: str) -> None:
    parse_or_format_error(text)


@given(st.sampled_from(RULE_FILES), mutations(), st.integers(0, 10**6), st.text(max_size=30))
@fuzz
def test_mutated_rule_files(path: str, mutation: tuple[str, int], at: int, insert: str) -> None:
    data = mutate(rule_bytes(path), *mutation)
    at %= len(data) + 1
    data = data[:at] + insert.encode("utf-8", "surrogatepass") + data[at:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return  # read_rule_text refuses it: test_random_bytes_in_rule_files
    parse_or_format_error(text)


@given(st.binary(max_size=300) | st.sampled_from(RULE_FILES).map(rule_bytes).map(lambda b: b[:2000] + b"\xff"))
@fuzz
def test_random_bytes_in_rule_files(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "rules.oca"
    path.write_bytes(data)
    try:
        parse_rules(read_rule_text(path), str(path))
    except FormatError as exc:
        assert exc.message.startswith(str(path))


# -- rule files generated from the grammar ---------------------------------------------------------------------
#: A few keywords, so that random frames and rules meet.
_KEYS = ["A", "B.C", "DPR.TYPE", "MJD-OBS", "REFLEX.CATG", "PRO.CATG", "OBS.ID", "TPL.START", "SIG.TEMPLATE",
         "SIG.FRAME"]
_GAPS = [" ", "\n", "\t", " // note\n", "\n/// banner\n", " /* # ## */ ", "/*\n#\n*/"]
#: Characters of regular expressions (valid and invalid patterns alike); no quote, no line break.
_REGEX = st.lists(st.sampled_from([*list("ab^$.*+?|()[]{},0123456789-\\:"), "[[:digit:]]", "[[:alpha:]]", "\\d"]),
                  max_size=12).map("".join)
_WORD = st.sampled_from(["X", "FLAT", "MASTER_BIAS", "tpl", "EV_1", "grp"])


def _string(draw: st.DrawFn) -> str:
    text = draw(st.text(st.characters(blacklist_characters='"\\\n', blacklist_categories=["Cs"]), max_size=6))
    return f'"{text}"'


@st.composite
def operand(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["key", "input", "lf", "string", "number", "truth"]))
    key = draw(st.sampled_from(_KEYS))
    if kind == "key":
        return key
    if kind == "input":
        return f"inputFile.{key}"
    if kind == "lf":
        return f"LF.{key}"
    if kind == "string":
        return _string(draw)
    if kind == "number":
        return draw(st.sampled_from(["0", "1", "-2", "56100.5", "57823.", "-.2", "1.5e3", "1e999"]))
    return draw(st.sampled_from(["T", "F", "true", "false"]))


@st.composite
def condition(draw: st.DrawFn, depth: int = 0) -> str:
    kinds = ["compare", "like", "regexp", "is", "truth"] + (["not", "and", "or", "parens"] if depth < 3 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "compare":
        op = draw(st.sampled_from(["==", "!=", "<", ">", "<=", ">=", "?="]))
        return f"{draw(operand())} {op} {draw(operand())}"
    if kind == "like":
        return f'{draw(operand())} like "{draw(st.text(st.sampled_from(list("ab%_.")), max_size=6))}"'
    if kind == "regexp":
        return f'{draw(operand())} regexp "{draw(_REGEX)}"'
    if kind == "is":
        negated = draw(st.sampled_from(["", "not "]))
        kind = draw(st.sampled_from(["string", "number", "boolean", "defined", "undefined"]))
        return f"{draw(operand())} is {negated}{kind}"
    if kind == "truth":
        return draw(st.sampled_from(["T", "F", "(T)", *_KEYS[:3]]))
    if kind == "not":
        return f"not {draw(condition(depth + 1))}"
    if kind == "parens":
        return f"({draw(condition(depth + 1))})"
    return f" {kind} ".join(draw(st.lists(condition(depth + 1), min_size=2, max_size=3)))


@st.composite
def assignment(draw: st.DrawFn) -> str:
    value = draw(st.one_of(operand(), condition()))
    return f"{draw(st.sampled_from([*_KEYS[:6], 'PRO.EXT', 'EXEC.CATG']))} = {value};"


def _block(draw: st.DrawFn) -> str:
    return "{ " + " ".join(draw(st.lists(assignment(), max_size=3))) + " }"


def _counts(draw: st.DrawFn) -> str:
    return " ".join(f"{word} = {draw(st.sampled_from(['0', '1', '2', '3']))};"
                    for word in draw(st.lists(st.sampled_from(["minRet", "maxRet"]), max_size=2)))


@st.composite
def statement(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["if", "select", "action"]))
    if kind == "if":
        return f"if {draw(condition())} then {_block(draw)}"
    if kind == "select":
        group = draw(st.sampled_from(["", " group by A", " group by OBS.ID, TPL.START"]))
        event = draw(st.sampled_from(["", " as (TPL_A, tpl)", ' as (EV, "night")'])) if group or draw(st.booleans()) \
            else ""
        return f"{_counts(draw)} select execute({draw(_WORD)}) from inputFiles where {draw(condition())}{group}{event};"
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        part = draw(st.sampled_from(["select", "product", "list", "recipe", "priority", "counts"]))
        if part == "select":
            pool = draw(st.sampled_from(["calibFiles", "rawFiles", "inputFiles"]))
            using = draw(st.sampled_from(["", " using PREVIOUS", " using CLOSEST within 1, 7 days"]))
            parts.append(f"select file as {draw(_WORD)} from {pool} where {draw(condition())}{using};")
        elif part == "product":
            parts.append(f"product {draw(_WORD)} {_block(draw)}")
        elif part == "list":
            parts.append(f"product {draw(_WORD)}, {draw(_WORD)};")
        elif part == "recipe":
            params = " ".join(f"{_string(draw)};" for _ in range(draw(st.integers(0, 2))))
            parts.append(draw(st.sampled_from([f"recipe r {{ {params} }}", "recipe r;"])))
        elif part == "priority":
            parts.append(f"priority = {draw(st.integers(-5, 50))};")
        else:
            parts.append(_counts(draw))
    return f"action {draw(_WORD)} {{ {' '.join(parts)} }}"


@st.composite
def rule_file(draw: st.DrawFn) -> str:
    """A rule file from the grammar: statements with whitespace or comments between every token."""
    text = "\n".join(draw(st.lists(statement(), min_size=1, max_size=6)))
    pieces = text.split(" ")
    return "".join(piece + draw(st.sampled_from(_GAPS)) for piece in pieces)


#: Frame values of every type, with the awkward ones: huge integers, NaN, infinities, empty text.
_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from([10**400, -10**400, 0, 1]),
                    st.floats(), st.text(max_size=8), st.sampled_from(["", "T", "1", "nan", "a" * 300]))
_FRAME = st.dictionaries(st.sampled_from([*_KEYS, "DPR.CATG", "BLUE", "PRO.EXT"]), _VALUES, max_size=8)


def evaluate_everything(rules: RuleSet, frames: list[dict[str, Any]]) -> None:
    """Every condition and assignment of the rules on every frame (and pair of frames), then a whole
    association of the frames; nothing may raise."""
    classifier = Classifier(rules.classify)
    conditions = [r.condition for r in rules.organise] + [s.condition for a in rules.actions.values()
                                                          for s in a.selects]
    values = [s.expression for a in rules.actions.values() for p in a.products for s in p.assignments]
    for header in frames:
        classifier.assign(header)
        for first in (None, *frames[:2]):
            for cond in conditions:
                assert compile_condition(cond)(header, first) in (True, False)
            for value in values:
                compile_expression(value)(header, first)
    night = [Frame(f"f{i}.fits", {**h, "MJD-OBS": 1.0 + i}) for i, h in enumerate(frames)]
    memory = [Calib(classifier.classify(Frame(f"m{i}.fits", {**h, "MJD-OBS": 0.5})), f"m{i}", f"m{i}", 0.5)
              for i, h in enumerate(frames[:2])]
    for mode in ("CALIB", "SCIENCE"):
        associate(night, rules, memory, instrument="X", date="2013-02-12", mode=mode)


@given(rule_file(), st.lists(_FRAME, min_size=1, max_size=4))
@fuzz
def test_grammar_generated_rule_files(text: str, frames: list[dict[str, Any]]) -> None:
    try:
        rules = parse_rules(text, "fuzz.oca")
    except FormatError as exc:
        assert exc.message.startswith("fuzz.oca:") and "\n" not in exc.message
        return
    evaluate_everything(rules, frames)
