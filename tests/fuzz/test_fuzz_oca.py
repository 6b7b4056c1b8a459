"""Fuzzing the OCA parser: random text and bytes, and mutations of the real rule files (ESO's, installed
with the pipelines, and dfos' own).  Contract: parse or raise FormatError (RuleSyntaxError), within the
fuzzing deadline; any other exception is a failure."""

from __future__ import annotations

import glob
from functools import cache
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from dfos.errors import FormatError
from dfos.oca.io import read_rule_text
from dfos.oca.parser import parse_rules
from fuzzing import fuzz
from malformed import mutate, mutations

RULE_FILES = sorted(glob.glob("/usr/share/cpl-plugins/*/gasgano/config/*.oca")
                    + glob.glob(str(Path(__file__).resolve().parents[2] / "src/dfos/rules/*.oca")))
#: OCA's own characters and words, so random text gets past the lexer often.
_PIECES = ["if", "then", "select", "execute", "from", "inputFiles", "where", "group", "by", "as", "action",
           "minRet", "maxRet", "file", "calibFiles", "rawFiles", "recipe", "product", "using", "within", "days",
           "and", "or", "not", "like", "DPR.CATG", "inputFile.MJD-OBS", "LF.DO.CATG", '"CALIB"', '"%BIAS%"', "1",
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
