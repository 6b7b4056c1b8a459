"""The pure rules of replacing a release: release ids, windows, static entries, what createAB skips, and the
release log's lines (a round trip)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dfos.archive.releases import (
    NO_RELEASE,
    Action,
    MemoryPolicy,
    ReleaseEvent,
    Window,
    is_static,
    parse_log,
    release_id,
    releases,
)
from dfos.errors import FormatError, UsageError

JAN, JUN, DEC = date(2013, 1, 1), date(2013, 6, 1), date(2013, 12, 31)


def test_a_window_covers_its_dates_inclusive_and_refuses_reversed_dates() -> None:
    window = Window(JAN, JUN, "R2")
    assert window.covers(JAN) and window.covers(JUN) and window.covers(date(2013, 3, 3))
    assert not window.covers(date(2012, 12, 31)) and not window.covers(date(2013, 6, 2))
    assert Window.parse(window.render(), "R2") == window
    with pytest.raises(UsageError, match="--from 2013-12-31 is after --to 2013-01-01"):
        Window(DEC, JAN)
    with pytest.raises(FormatError):
        Window.parse("2013-12-31..2013-01-01")
    with pytest.raises(FormatError):
        Window.parse("2013-01-01")


@pytest.mark.parametrize("text", ["", "-R2", ".x", "a b", "R/2", "x" * 65, "R2;rm"])
def test_release_ids_are_short_plain_tokens(text: str) -> None:
    with pytest.raises(UsageError, match="is not 1 to 64 letters"):
        release_id(text)
    assert release_id("UVES_R2.1-b") == "UVES_R2.1-b"


def test_static_entries_by_name_or_by_the_instruments_static_pro_catg() -> None:
    names, catgs = {"NA_GSTD_SYNTH.fits"}, {"IMG_STD_CAT"}
    assert is_static("NA_GSTD_SYNTH.fits", "", names, catgs)
    assert is_static("OTHER_CAT.fits", "IMG_STD_CAT", names, catgs)
    assert not is_static("NA_MFLT_130211A_Ks.fits", "MASTER_IMG_FLAT", names, catgs)
    assert not is_static("NA_MFLT_130211A_Ks.fits", "", names, {""})  # no PRO.CATG is no static PRO.CATG


def test_the_memory_policy_skips_masters_inside_the_window_and_hidden_ones() -> None:
    policy = MemoryPolicy(Window(JAN, JUN, "R2"), {"NA_MFLT_121201A_Ks.fits": "R1"})
    inside = policy.skip(date(2013, 2, 11), "NA_MFLT_130211A_Ks.fits")
    assert inside is not None and "inside the raw2raw window 2013-01-01..2013-06-01 of release R2" in inside
    assert "dfos release raw2raw --lift" in inside
    assert policy.skip(date(2013, 7, 1), "NA_MFLT_130701A_Ks.fits") is None
    hidden = policy.skip(date(2012, 12, 1), "NA_MFLT_121201A_Ks.fits")
    assert hidden is not None and "hidden in the archive by release R1" in hidden
    assert MemoryPolicy().skip(date(2013, 2, 11), "NA_MFLT_130211A_Ks.fits") is None


tokens = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,30}", fullmatch=True)
events = st.builds(
    ReleaseEvent,
    at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)).map(
        lambda d: d.replace(microsecond=0)),
    action=st.sampled_from(list(Action)),
    release=st.one_of(st.just(NO_RELEASE), st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)),
    subject=tokens,
    detail=st.lists(tokens, max_size=3).map(tuple),
)


@given(st.lists(events, max_size=5))
def test_log_lines_round_trip(written: list[ReleaseEvent]) -> None:
    text = "# release log\n" + "".join(e.render() + "\n" for e in written) + "\n"
    assert parse_log(text) == written


def test_a_log_line_is_plain_text_and_a_bad_one_is_named_by_its_line() -> None:
    event = ReleaseEvent(datetime(2013, 2, 14, 14, 0), Action.HIDE, "R2", "UV_MBIA_130212A_BLUE.fits",
                         ("2013-02-12", "CALIB"))
    assert event.render() == "2013-02-14T14:00:00 hide R2 UV_MBIA_130212A_BLUE.fits 2013-02-12 CALIB"
    assert releases([event]) == {"R2"}
    with pytest.raises(FormatError, match=r"RELEASE_LOG:2: unknown action 'remove'"):
        parse_log(event.render() + "\n2013-02-14T14:00:00 remove R2 X.fits\n", "RELEASE_LOG")
    with pytest.raises(FormatError, match="RELEASE_LOG:1: expected"):
        parse_log("2013-02-14T14:00:00 hide R2\n", "RELEASE_LOG")
    with pytest.raises(FormatError, match="holds a space"):
        ReleaseEvent(event.at, Action.HIDE, "R2", "a b").render()
