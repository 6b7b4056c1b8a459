"""DFO_STATUS line format: exactly '<flag> <DATE> <YYYY-MM-DDThh:mm:ss>'."""

from __future__ import annotations

from datetime import datetime

import pytest

from dfos.errors import FormatError
from dfos.status.flags import StatusFlag, StatusLine, parse_line, parse_text, render_line


def test_render_and_parse_round_trip() -> None:
    line = StatusLine("cal_AB", "2024-07-12", datetime(2024, 7, 13, 11, 5, 44))
    assert render_line(line) == "cal_AB 2024-07-12 2024-07-13T11:05:44"
    assert parse_line(render_line(line)) == line


@pytest.mark.parametrize(
    "text",
    [
        "cal_AB 2024-07-12",
        "cal_AB 2024-07-12 2024-07-13T11:05:44 extra",
        "cal_AB 2024-07-12 2024-07-13 11:05:44",
        "cal_AB 2024-07-12 yesterday",
        "1cal 2024-07-12 2024-07-13T11:05:44",
    ],
)
def test_malformed_lines_are_rejected(text: str) -> None:
    with pytest.raises(FormatError):
        parse_line(text)


def test_parse_text_reports_line_numbers_and_skips_blank_lines() -> None:
    text = "fits_Requested 2013-02-12 2013-02-13T10:00:00\n\ngarbage\ncal_AB 2013-02-12 2013-02-13T10:05:00\n"
    good, bad = parse_text(text)
    assert [g.flag for g in good] == ["fits_Requested", "cal_AB"]
    assert [(b.lineno, b.text) for b in bad] == [(3, "garbage")]


def test_flag_tokens_are_the_dfos_ones() -> None:
    assert [f.value for f in StatusFlag][:8] == [
        "fits_Requested",
        "raw_Complete",
        "raw_Incomplete",
        "cal_AB",
        "cal_Queued",
        "cal_QC",
        "cal_Certif",
        "cal_Updated",
    ]


@pytest.mark.parametrize("key", ["2013-02-30", "2013-13-01", "0001-01-01"])
def test_a_key_written_like_a_date_must_be_one(key: str) -> None:
    with pytest.raises(FormatError, match=key):
        parse_line(f"fits_Requested {key} 2013-02-13T10:00:00")
    good, bad = parse_text(f"fits_Requested {key} 2013-02-13T10:00:00\n")
    assert good == [] and [b.lineno for b in bad] == [1]
