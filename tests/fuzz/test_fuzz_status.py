"""Fuzzing DFO_STATUS (dfos.status.flags.parse_line, parse_text): a line parses or raises FormatError; a
whole file never raises - every bad line comes back as Malformed with its line number, good ones parse."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dfos.errors import FormatError
from dfos.status.flags import StatusLine, parse_line, parse_text
from fuzzing import fuzz

REAL = ("fits_Requested 2013-02-12 2013-02-13T10:00:00\nraw_Complete 2013-02-12 2013-02-13T10:05:00\n"
        "cal_AB 2013-02-12 2013-02-13T11:00:00\ncal_Queued 2013-02-12 2013-02-13T11:00:01.250\n"
        "du_Total PSEUDO_2013 2013-02-14T00:00:00\nfinished 2013-02-11 2013-02-14T09:00:00\n")
ODD = ["\x00", "\ufeff", "\u2028", "\x85", "\r", "\t", " ", "T", ":", ".", "-", "+01:00", "Z", "é", "\udcff"]
BAD_VALUES = ["2013-02-30", "2013-13-01", "0001-01-01", "9999-12-31", "2013-02-29T25:00:00", "2013-02-12T10:00:60",
              "9" * 5000, "x" * 100_000, "2013-02-12T10:00:00.1234567", "nan", ""]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A real DFO_STATUS with lines cut, doubled, dropped, fields swapped, odd characters or bad values."""
    lines = REAL.splitlines()
    for _ in range(draw(st.integers(0, 6))):
        i = draw(st.integers(0, len(lines) - 1))
        words = lines[i].split(" ")
        op = draw(st.sampled_from(["cut", "dup", "drop", "swap", "odd", "value"]))
        if op == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "drop" and len(lines) > 1:
            del lines[i]
        elif op == "swap":
            j, k = draw(st.integers(0, len(words) - 1)), draw(st.integers(0, len(words) - 1))
            words[j], words[k] = words[k], words[j]
            lines[i] = " ".join(words)
        elif op == "odd":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.sampled_from(ODD)) + lines[i][at:]
        else:
            words[draw(st.integers(0, len(words) - 1))] = draw(st.sampled_from(BAD_VALUES))
            lines[i] = " ".join(words)
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\r\n"]))


@given(st.one_of(st.text(), mutated().map(lambda t: t.split("\n")[0])))
@fuzz
def test_a_status_line_parses_or_is_a_format_error(text: str) -> None:
    try:
        line = parse_line(text)
    except FormatError:
        return
    assert isinstance(line, StatusLine) and line.flag and line.key


@given(st.one_of(mutated(), st.text(), st.binary(max_size=300).map(lambda b: b.decode("utf-8", "replace"))))
@fuzz
def test_a_status_file_never_raises_and_reports_every_bad_line(text: str) -> None:
    good, bad = parse_text(text)
    lines = text.splitlines()
    assert len(good) + len(bad) == sum(1 for line in lines if line.strip())
    for item in bad:
        assert 1 <= item.lineno <= len(lines) and item.text == lines[item.lineno - 1] and item.reason
