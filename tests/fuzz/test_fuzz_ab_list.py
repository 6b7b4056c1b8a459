"""Fuzzing the AB list parser (read_ab_list): parse or raise FormatError, on mutations of a real list (cut
lines, swapped fields, path names, odd bytes, non-UTF-8) and on random bytes."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from dfos.ab.lists import read_ab_list
from dfos.errors import FormatError
from dfos.naming import safe_name
from fuzzing import fuzz

LINES = [
    "UVES.2013-02-12T18:05:00.500_tpl.ab  BIAS_BLUE  uves_cal_mbias  COMPLETE  DONE",
    "UVES.2013-02-12T18:40:00.500_tpl.ab  DARK_BLUE  uves_cal_mdark  COMPLETE",
    "UVES.2013-02-12T22:02:00.500_frm.ab  ARC_BLUE  uves_cal_wavecal  INCOMPLETE",
    "# a comment",
    "",
]
ODD = ["../../etc/passwd", ".hidden.ab", "-rf", "a/b.ab", "x" * 300, "\x00", "\udcff", "DONE", "\t", "é.ab"]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    lines = [line.split("  ") for line in LINES]
    for _ in range(draw(st.integers(0, 4))):
        row = draw(st.integers(0, len(lines) - 1))
        fields = lines[row]
        kind = draw(st.sampled_from(["odd", "swap", "cut", "drop"]))
        if kind == "odd":
            fields.insert(draw(st.integers(0, len(fields))), draw(st.sampled_from(ODD)))
        elif kind == "swap" and len(fields) > 1:
            fields[0], fields[-1] = fields[-1], fields[0]
        elif kind == "cut":
            lines[row] = fields[: draw(st.integers(0, len(fields)))]
        elif kind == "drop":
            del lines[row]
            if not lines:
                lines = [["x.ab"]]
    text = "\n".join("  ".join(fields) for fields in lines) + "\n"
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=3)) + data[at:]
    return data


def _check(path: Path) -> None:
    try:
        entries = read_ab_list(path)
    except FormatError:
        return
    for entry in entries:  # whatever is read can be used as a file name in $DFO_AB_DIR
        assert safe_name(entry.name) == entry.name


@given(mutated())
@fuzz
def test_mutated_ab_lists_parse_or_are_a_format_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "AB_list_CALIB_2013-02-12"
    path.write_bytes(data)
    _check(path)


@given(st.binary(max_size=600))
@fuzz
def test_random_bytes_parse_or_are_a_format_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "AB_list_CALIB_2013-02-12"
    path.write_bytes(data)
    _check(path)
