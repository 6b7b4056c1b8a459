"""Fuzzing the .hdr parser (parse_hdr_text, read_header): parse or raise FormatError, on mutations of a real
header file (cut lines, swapped cards, odd bytes, huge and non-finite values, non-ASCII) and on random input."""

from __future__ import annotations

from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from dfos.errors import FormatError
from dfos.headers.io import parse_hdr_text, read_header
from fuzzing import fuzz

SIMPLE = "SIMPLE  =                    T"
CARDS = [
    SIMPLE,
    "BITPIX  =                   16",
    "NAXIS   =                    0",
    "INSTRUME= 'UVES    '",
    "ARCFILE = 'UVES.2013-02-12T18:05:00.500.fits'",
    "MJD-OBS =       56335.75347801",
    "EXPTIME =                  0.0",
    "HIERARCH ESO DPR CATG = 'CALIB   '",
    "HIERARCH ESO DPR TYPE = 'BIAS    '",
    "HIERARCH ESO TPL START = '2013-02-12T18:05:00'",
    "HIERARCH ESO TPL NEXP = 5",
    "OBJECT  = 'BIAS    '           / a comment",
    "COMMENT a comment card",
    "END",
]
ODD = ["EXPTIME = NaN", "EXPTIME = 1.0E308", "EXPTIME = 1.0E999", "EXPTIME = -inf", "OBJECT  = 'unclosed",
       "ARCFILE = '../../../../etc/passwd'", "LONG    = '" + "x" * 5000 + "'", "CONTINUE  'x&'", "=", "'", "\t",
       "HIERARCH", "HIERARCH ESO = 1", "KEY     = (1, 2)", "KEY     = 1.0D5", "KEY     = T F", "\x00", "é"]


def _check(parse: object) -> None:
    try:
        header = parse()  # type: ignore[operator]
    except FormatError:
        return
    assert header is not None


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = [line.ljust(80) for line in CARDS]
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["cut", "swap", "odd", "drop", "truncate", "dup"]))
        at = draw(st.integers(0, len(lines) - 1))
        if kind == "cut":
            lines[at] = lines[at][: draw(st.integers(0, 80))]
        elif kind == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif kind == "odd":
            lines.insert(at, draw(st.sampled_from(ODD)))
        elif kind == "drop" and len(lines) > 1:
            del lines[at]
        elif kind == "truncate":
            lines = lines[: at + 1]
        else:
            lines.insert(at, lines[at])
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n"]))


@given(mutated())
@fuzz
def test_mutated_header_text_parses_or_is_a_format_error(text: str) -> None:
    _check(lambda: parse_hdr_text(text, "fuzz.hdr"))


@given(st.text(max_size=400))
@fuzz
def test_random_text_parses_or_is_a_format_error(text: str) -> None:
    _check(lambda: parse_hdr_text(SIMPLE.ljust(80) + "\n" + text, "fuzz.hdr"))


@given(st.one_of(mutated().map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary(max_size=400)),
       st.binary(max_size=8))
@example(data=(SIMPLE.ljust(80) + "\nEXPTIME = NaN\nEND\n").encode(), noise=b"")  # found by hand: VerifyError
@example(data=(SIMPLE.ljust(80) + "\nEXPTIME = 1.0E999\nEND\n").encode(), noise=b"\xff")
@fuzz
def test_header_files_read_or_are_a_format_error(tmp_path: Path, data: bytes, noise: bytes) -> None:
    path = tmp_path / "UVES.2013-02-12T18:05:00.500.hdr"
    path.write_bytes(data + noise)
    _check(lambda: read_header(path))
    fits_path = tmp_path / "UVES.2013-02-12T18:05:00.500.fits"
    fits_path.write_bytes((data + noise).ljust(2880, b" "))
    _check(lambda: read_header(fits_path))
