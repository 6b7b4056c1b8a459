"""Certified calibration names: render and parse are inverse, for the default and configured patterns."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dfos.errors import ConfigError, FormatError
from dfos.naming import CALIB_PATTERN, CalibName
from dfos.workspace import Workspace, open_workspace

names = st.builds(
    CalibName,
    code=st.from_regex(r"[A-Z][A-Z0-9]{0,3}", fullmatch=True),
    kind=st.from_regex(r"[A-Z0-9]{4}", fullmatch=True),
    day=st.dates(date(2000, 1, 1), date(2099, 12, 31)),
    letter=st.from_regex(r"[A-Z]", fullmatch=True),
    setup=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,12}", fullmatch=True),
)


@given(names, st.sampled_from([CALIB_PATTERN, "{code}-{kind}-{yymmdd}-{letter}-{setup}.fits",
                               "{setup}__{yymmdd}_{code}{kind}{letter}.fits"]))
def test_render_and_parse_are_inverse(name: CalibName, pattern: str) -> None:
    try:
        rendered = name.render(pattern)
    except ValueError:  # a pattern without separators may be ambiguous for some values: refused, never wrong
        return
    assert CalibName.parse(rendered, pattern) == name


def test_the_dfos_example() -> None:
    name = CalibName.parse("UV_MBIA_130210A_BLUE.fits")
    assert (name.code, name.kind, name.day, name.letter, name.setup) == ("UV", "MBIA", date(2013, 2, 10), "A", "BLUE")


@pytest.mark.parametrize("bad", ["UV_MBIA_130210A_BLUE.fit", "UV_MBIA_131310A_BLUE.fits", "uv_MBIA_130210A_BLUE.fits",
                                 "UV_MBIA_130210a_BLUE.fits", "../UV_MBIA_130210A_BLUE.fits"])
def test_other_names_are_refused(bad: str) -> None:
    with pytest.raises(FormatError):
        CalibName.parse(bad)


def test_a_configured_pattern_is_checked_when_loaded(workspace: Workspace) -> None:
    with pytest.raises(ConfigError, match=r"DFOS_MCAL_NAME_PATTERN: naming pattern .* must hold each of"):
        open_workspace(workspace.root, env={"DFOS_MCAL_NAME_PATTERN": "{code}_{kind}_{yymmdd}{letter}.fits"})
