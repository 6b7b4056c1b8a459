"""Fuzzing the execAB/execQC and job file parsers (dfos.jobs.model.parse_exec, parse_blocks): any text,
any bytes read as a file, mutations of real files - each parses or raises FormatError, and what parses
lists every AB once with no dependency cycle."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from dfos.errors import FormatError
from dfos.fsutil import read_utf8
from dfos.jobs.model import (
    ExecFile,
    ExecLine,
    JobBlock,
    find_cycle,
    parse_blocks,
    parse_exec,
    render_block,
    render_exec,
)
from fuzzing import fuzz

_ABS = [f"UVES.2013-02-12T18:0{i}:00.500_tpl.ab" for i in range(4)]
REAL = [
    render_exec(ExecFile("CON", (ExecLine(_ABS[0]), ExecLine(_ABS[1], (_ABS[0],)),
                                 ExecLine(_ABS[2], (_ABS[0], _ABS[1])), ExecLine(_ABS[3])))),
    render_exec(ExecFile("CPL", tuple(ExecLine(a) for a in _ABS)), ["DRS_TYPE CPL"]),
    render_exec(ExecFile("INT", tuple(ExecLine(a, local_parallel=True) for a in _ABS))),
    render_exec(ExecFile("PAR", tuple(ExecLine(a, (), "processQC") for a in _ABS))),
    "#!/usr/bin/env bash\nset -euo pipefail\n\n" + "\n".join(render_block(JobBlock(
        "CALIB", "2013-02-12", "written by dfos create-job", "/ws/jobs/execAB_CALIB_2013-02-12",
        "/ws/jobs/execQC_CALIB_2013-02-12", "/ws/jobs/rawDown_CALIB_2013-02-12"))) + "\n",
]
ODD = ["\x00", "\ufeff", "\u2028", "\x85", "\r", "\t", "||", "|", ",", "#", '"', "'", "\\", "-a", "-l", "NONE",
       "../", "/", " ", "--jobs", "--dag-id", "$(x)", "é"]
HUGE = ["9" * 5000, "x" * 100_000, "A.ab," * 2000, "-1", "nan"]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A real file with a few lines cut, doubled, dropped, fields swapped, odd or huge values put in."""
    lines = draw(st.sampled_from(REAL)).splitlines()
    for _ in range(draw(st.integers(0, 5))):
        lines = lines or [""]
        i = draw(st.integers(0, len(lines) - 1))
        words = lines[i].split(" ")
        op = draw(st.sampled_from(["cut", "dup", "drop", "swap", "odd", "huge"]))
        if op == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif op == "dup":
            lines.insert(draw(st.integers(0, len(lines))), lines[i])
        elif op == "drop":
            del lines[i]
        elif op == "swap":
            j, k = draw(st.integers(0, len(words) - 1)), draw(st.integers(0, len(words) - 1))
            words[j], words[k] = words[k], words[j]
            lines[i] = " ".join(words)
        elif op == "odd":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.sampled_from(ODD)) + lines[i][at:]
        else:
            words[draw(st.integers(0, len(words) - 1))] = draw(st.sampled_from(HUGE))
            lines[i] = " ".join(words)
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\r\n"]))


def _check_exec(text: str) -> None:
    try:
        parsed = parse_exec(text, source="execAB_fuzz")
    except FormatError:
        return
    names = [line.ab for line in parsed.lines]
    assert len(names) == len(set(names))
    assert find_cycle({line.ab: line.parents for line in parsed.lines}) is None
    assert parsed.kind in ("CON", "CPL", "INT", "SER", "PAR", "IMPLICIT")


def _check_blocks(text: str) -> None:
    try:
        blocks = parse_blocks(text, source="JOBS_fuzz")
    except FormatError:
        return
    assert all(block.mode in ("CALIB", "SCIENCE") and block.exec_ab and block.exec_qc for block in blocks)


@given(st.one_of(mutated(), st.text(), st.text(alphabet="AB.ab |,-NONE#\n", max_size=200)))
@fuzz
def test_exec_files_parse_or_are_a_format_error(text: str) -> None:
    _check_exec(text)


@given(st.one_of(mutated(), st.text()))
@fuzz
def test_job_files_parse_or_are_a_format_error(text: str) -> None:
    _check_blocks(text)


@given(st.one_of(st.binary(max_size=400), mutated().map(lambda t: t.encode("utf-8", "surrogatepass")),
                 st.tuples(mutated(), st.binary(min_size=1, max_size=4)).map(lambda p: p[0].encode() + p[1])))
@fuzz
def test_exec_and_job_files_read_as_bytes_parse_or_are_a_format_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "execAB_fuzz"
        path.write_bytes(data)
        try:
            text = read_utf8(path)
        except FormatError as exc:
            assert str(path) in exc.message
            return
    _check_exec(text)
    _check_blocks(text)
