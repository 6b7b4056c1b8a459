"""Certified calibration and science names: render and parse are inverse, for the default and configured
patterns."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dfos.errors import ConfigError, FormatError
from dfos.naming import CALIB_PATTERN, SCIENCE_PATTERN, CalibName, ScienceName
from dfos.workspace import Workspace, open_workspace

names = st.builds(
    CalibName,
    code=st.from_regex(r"[A-Z][A-Z0-9]{0,3}", fullmatch=True),
    kind=st.from_regex(r"[A-Z0-9]{4}", fullmatch=True),
    day=st.dates(date(2000, 1, 1), date(2099, 12, 31)),
    letter=st.from_regex(r"[A-Z]", fullmatch=True),
    setup=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,12}", fullmatch=True),
)


@settings(deadline=None)
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


science_names = st.builds(
    ScienceName,
    code=st.from_regex(r"[A-Z][A-Z0-9]{0,3}", fullmatch=True),
    kind=st.from_regex(r"[A-Z0-9]{4}", fullmatch=True),
    moment=st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31, 23, 59, 59)).map(
        lambda t: t.replace(microsecond=0)),
    setup=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,12}", fullmatch=True),
    number=st.integers(1, 9999),
)


@settings(deadline=None)
@given(science_names, st.sampled_from([SCIENCE_PATTERN, "{code}-{kind}-{yymmdd}-{hhmmss}-{setup}{n}.fits",
                                       "{setup}__{yymmdd}{hhmmss}_{code}{kind}{n}.fits"]))
def test_science_render_and_parse_are_inverse(name: ScienceName, pattern: str) -> None:
    try:
        rendered = name.render(pattern)
    except ValueError:  # an ambiguous pattern for some values: refused, never wrong
        assert pattern != SCIENCE_PATTERN  # the default pattern names every science product
        return
    assert ScienceName.parse(rendered, pattern) == name


def test_the_science_example() -> None:
    first = ScienceName("NA", "SCOA", datetime(2013, 2, 13, 1, 30), "Ks")
    assert first.render() == "NA_SCOA_130213T013000_Ks.fits"
    assert ScienceName.parse("NA_SCOA_130213T013000_Ks_2.fits") == ScienceName("NA", "SCOA", first.moment, "Ks", 2)


@pytest.mark.parametrize("bad", ["NA_SCOA_130213T013000_Ks_1.fits", "NA_SCOA_130213T013000_Ks_0.fits",
                                 "NA_SCOA_130213T253000_Ks.fits", "NA_SCOA_130213T013000_Ks_02.fits",
                                 "NA_SCOA_130213A_Ks.fits", "NA_SCOA_130213T0130_Ks.fits", "NA_SCOA_130213T013000_Ks"])
def test_other_science_names_are_refused(bad: str) -> None:
    with pytest.raises(FormatError):
        ScienceName.parse(bad)


def test_a_science_name_holds_whole_seconds_of_this_century() -> None:
    with pytest.raises(ValueError, match="losslessly"):
        ScienceName("NA", "SCOA", datetime(2013, 2, 13, 1, 30, 0, 512000), "Ks").render()
    with pytest.raises(ValueError, match="losslessly"):
        ScienceName("NA", "SCOA", datetime(1999, 2, 13, 1, 30), "Ks").render()
    with pytest.raises(ValueError, match="1 to 9999"):
        ScienceName("NA", "SCOA", datetime(2013, 2, 13, 1, 30), "Ks", 10000).render()


def test_a_configured_science_pattern_is_checked_when_loaded(workspace: Workspace) -> None:
    with pytest.raises(ConfigError, match=r"DFOS_SCI_NAME_PATTERN: naming pattern .* must hold each of .*\{n\}"):
        open_workspace(workspace.root, env={"DFOS_SCI_NAME_PATTERN": "{code}_{kind}_{yymmdd}T{hhmmss}_{setup}.fits"})
    ws = open_workspace(workspace.root, env={"DFOS_SCI_NAME_PATTERN": "{code}-{kind}-{yymmdd}{hhmmss}-{setup}{n}.fits"})
    assert ws.settings.SCI_NAME_PATTERN == "{code}-{kind}-{yymmdd}{hhmmss}-{setup}{n}.fits"
