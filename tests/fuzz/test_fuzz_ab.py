"""Fuzzing the AB parser: mutations of ABs dfos writes (cut and duplicated lines, swapped fields, odd
bytes, '../' and absolute paths, huge and broken lines) and random bytes.  Contract: parse or raise
FormatError, within the fuzzing deadline; and what parses is safe: it renders, its names are safe
and its paths stay under the DFOS data directories (no '..')."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from dfos.ab.format import parse, render
from dfos.ab.model import AB
from dfos.ab.store import decode, read_ab_file
from dfos.errors import FormatError
from fuzzing import fuzz
from malformed import ab_strategy, mutate, mutations, sample_abs

SAMPLES = [render(ab).encode() for ab in sample_abs()]


def assert_safe(ab: AB) -> None:
    assert parse(render(ab)) == ab
    paths = [ab.prod_path, *(p for p, _ in ab.sof), *(r.ref for r in ab.rawfiles),
             *(c.sof_path for c in (*ab.mcalib, *ab.massoc))]
    assert not any(".." in p.split("/") for p in paths)
    assert all(p.startswith(("$", "/")) for p in paths)
    assert "/" not in ab.name + ab.log_name + ab.prod_root + "".join(p.name for p in ab.products)


def parse_or_format_error(data: bytes) -> None:
    try:
        ab = parse(decode(data, "fuzz.ab"), "fuzz.ab")
    except FormatError as exc:
        assert exc.message.startswith("fuzz.ab") and "\n" not in exc.message
        return
    assert_safe(ab)


@given(st.sampled_from(SAMPLES) | ab_strategy().map(lambda ab: render(ab).encode()),
       st.lists(mutations(), min_size=1, max_size=3))
@fuzz
def test_mutated_abs(data: bytes, steps: list[tuple[str, int]]) -> None:
    for kind, index in steps:
        data = mutate(data, kind, index)
    parse_or_format_error(data)


@given(st.sampled_from(SAMPLES), st.integers(0, 10**6), st.binary(max_size=40) | st.sampled_from(
    [b"../", b"/../../etc/passwd", b"\n", b"\r", b"\x85", b"  ", b"$DFO_MON_DIR/", b"$DFO_BIN_DIR/", b"=", b"#",
     b"\nPROD_PATH       /tmp\n", b"\nAB_NAME  x.ab\n", b"\nSOF_CONTENT  /etc/passwd  X\n", b"level=-1"]))
@fuzz
def test_insertions_into_abs(data: bytes, at: int, insert: bytes) -> None:
    at %= len(data) + 1
    parse_or_format_error(data[:at] + insert + data[at:])


@given(st.binary(max_size=500))
@fuzz
def test_random_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "x.ab"
    path.write_bytes(data)
    try:
        assert_safe(read_ab_file(path))
    except FormatError as exc:
        assert exc.message.startswith(str(path))
