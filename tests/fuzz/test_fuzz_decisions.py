"""Fuzzing the closing steps' own files: the decisions file (``certify --decisions``) and the move plan
(``$DFO_CAL_DIR/<DATE>/.move_<MODE>.json``).  Mutations of real files (cut and duplicated lines,
swapped fields, odd and non-UTF-8 bytes, huge values, deep nesting) and random text and bytes.
Contract: parse or raise FormatError (one line), within the fuzzing deadline; what parses is sane."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from dfos.errors import FormatError
from dfos.steps.certify import ACCEPT, MAX_COMMENT, REJECT, parse_decisions, read_decisions
from dfos.steps.safe_move import Planned, read_plan, write_plan
from fuzzing import fuzz, mutated_bytes

DECISIONS = (b"# decisions of 2013-02-12\nUVES.2013-02-12T18:05:00.500_tpl.ab accept clean, as usual\n"
             b"UVES.2013-02-12T18:40:00.500_tpl.ab REJECT stripes in the lower half\n\n"
             b"UVES.2013-02-12T21:50:00.500_frm.ab   accept\n")
ODD = [b"\xff", b"\xc3", b"\x00", b"\n", b"\r", b"\x85", b"\t", b" ", b"#", b"accept", b"reject", b"\"", b"[", b"{",
       b"}", b"]", b",", b":", b"1e999", b"-1", b"../", b"\xe2\x80\xa8"]
HUGE = [b"9" * 5000, b"x" * 100_000, b"[" * 3000, b"{\"a\":" * 2000, b"accept " * 5000]


def _decisions_or_format_error(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        found = read_decisions(path)
    except FormatError as exc:
        assert str(path) in exc.message and "\n" not in exc.message and len(exc.message) <= 1000
        return
    assert len({d.ab for d in found}) == len(found)  # one decision per AB: contradictions were refused
    assert all(d.decision in (ACCEPT, REJECT) and len(d.comment) <= MAX_COMMENT and "\0" not in d.comment
               for d in found)


@given(mutated_bytes([DECISIONS], ODD, HUGE))
@fuzz
def test_mutated_decisions_files(tmp_path: Path, data: bytes) -> None:
    _decisions_or_format_error(tmp_path / "decisions.txt", data)


@given(st.binary(max_size=400))
@fuzz
def test_random_bytes_as_decisions(tmp_path: Path, data: bytes) -> None:
    _decisions_or_format_error(tmp_path / "decisions.txt", data)


@given(st.text(max_size=400))
@fuzz
def test_random_text_as_decisions(text: str) -> None:
    try:
        parse_decisions(text, "fuzz.txt")
    except FormatError as exc:
        assert exc.message.startswith("fuzz.txt:") and "\n" not in exc.message


def _plan_sample(tmp_path: Path) -> bytes:
    path = tmp_path / "sample.json"
    write_plan(path, [Planned("/ws/products/BIAS_BLUE/2013-02-12/r.UVES.2013-02-12T18:05:00.500_tpl_0000.fits",
                              "/ws/calib/2013-02-12/UV_MBIA_130212A_BLUE.fits", "0" * 63 + "a", 2880),
                      Planned("/ws/AB/UVES.2013-02-12T18:05:00.500_tpl.alog",
                              "/ws/logs/2013-02-12/UVES.2013-02-12T18:05:00.500_tpl.alog", "f" * 64, 0)])
    return path.read_bytes()


def _plan_or_format_error(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        plan = read_plan(path)
    except FormatError as exc:
        assert str(path) in exc.message and "\n" not in exc.message and len(exc.message) <= 1000
        return
    assert plan is not None
    assert all(isinstance(p.size, int) and p.size >= 0 and len(p.sha256) == 64 and p.source.startswith("/")
               and p.target.startswith("/") for p in plan)
    assert len({p.target for p in plan}) == len(plan)


@given(st.data())
@fuzz
def test_mutated_move_plans(tmp_path: Path, data: st.DataObject) -> None:
    _plan_or_format_error(tmp_path / ".move_CALIB.json", data.draw(mutated_bytes([_plan_sample(tmp_path)], ODD, HUGE)))


@given(st.binary(max_size=400) | st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
        ["source", "target", "sha256", "size", "x"]), inner, max_size=5)).map(
    lambda doc: __import__("json").dumps(doc).encode()))
@fuzz
def test_random_move_plans(tmp_path: Path, data: bytes) -> None:
    _plan_or_format_error(tmp_path / ".move_CALIB.json", data)
