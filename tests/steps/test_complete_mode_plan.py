"""COMPLETE_MODE's pure parts: the window of dates around the science, the producers a science batch needs."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from dfos.ab.model import AB, CalibInput
from dfos.steps.complete_mode import producers, window
from malformed import sample_ab


def test_the_window_holds_the_archive_dates_within_reach_of_a_science_date() -> None:
    archive = [date(2013, 1, 28), date(2013, 2, 1), date(2013, 2, 3), date(2013, 2, 6), date(2013, 2, 20)]
    assert window([date(2013, 2, 2)], archive, 1) == [date(2013, 2, 1), date(2013, 2, 3)]
    assert window([date(2013, 2, 2), date(2013, 2, 4)], archive, 2) == [date(2013, 2, 1), date(2013, 2, 3),
                                                                       date(2013, 2, 6)]
    assert window([date(2013, 2, 2)], archive, 0) == []  # the date itself is not in the archive
    assert window([], archive, 3) == []


def _virtual(ab: AB, *producers_: str) -> AB:
    """``ab`` reading one virtual calibration made by each of ``producers_``."""
    return replace(ab, mcalib=tuple(CalibInput(f"$DFO_CAL_DIR/VCAL/2013-02-12/{p}.hdr", "MASTER", f"/x/{p}.fits",
                                               True, p) for p in producers_))


def test_producers_follow_virtual_inputs_across_batches_once_each() -> None:
    dark, flat, flat2 = (sample_ab(f"NACO.2013-02-1{i}T17:00:00.000.ab", virtual=False) for i in (1, 2, 3))
    flat = _virtual(flat, dark.name)
    flat2 = _virtual(flat2, dark.name)
    science = [_virtual(sample_ab("NACO.2013-02-13T01:30:00.512.ab", virtual=False), flat.name, flat2.name),
               _virtual(sample_ab("NACO.2013-02-13T02:30:00.612.ab", virtual=False), flat.name)]
    known = {ab.name: ab for ab in (dark, flat, flat2)}
    assert producers(science, known.get) == {dark.name, flat.name, flat2.name}
    assert producers(science[1:], known.get) == {flat.name, dark.name}
    assert producers([dark], known.get) == set()
    # a producer that is gone (moved, superseded) is named, and nothing behind it is found
    assert producers(science[1:], lambda name: None) == {flat.name}
    # a cycle (broken AB files) ends
    looped = {dark.name: _virtual(dark, flat.name), flat.name: flat}
    assert producers([science[1]], looped.get) == {flat.name, dark.name}
