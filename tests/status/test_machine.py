"""The dfoMonitor decision table, rule by rule (seed 000, section "Decision making")."""

from __future__ import annotations

from datetime import date

import pytest

from dfos.status.machine import DateFacts, evaluate_date, listed_dates

DAY = date(2013, 2, 11)
BASE = ["fits_Requested", "raw_Complete"]

W, OF, D = "WAIT", "OFFER", "DONE"


def steps(flags: list[str], today: bool = False, n_sci_abs: int | None = None) -> dict[str, str]:
    return evaluate_date(DAY, flags, is_today=today, facts=DateFacts(n_sci_abs=n_sci_abs)).steps()


CALIB_COLUMNS = ("complete", "create_ab", "abs", "certify_move", "certify_light", "finish", "remove")


# (flags, today, n_sci_abs) -> complete, create_ab, abs, certify_move, certify_light, finish, remove
TABLE = [
    ([], False, None, ("YELLOW", W, W, W, W, W, W)),
    (["fits_Requested"], False, None, ("YELLOW", W, W, W, W, W, W)),
    (BASE, False, None, ("GREEN", OF, W, W, W, W, W)),
    (BASE, True, None, ("YELLOW", OF, W, W, W, W, W)),  # TODAY is always yellow
    (["fits_Requested", "raw_Incomplete"], False, None, ("RED", W, W, W, W, W, W)),
    (["fits_Requested", "raw_Incomplete"], True, None, ("YELLOW", W, W, W, W, W, W)),
    (["fits_Requested", "raw_Incomplete", "raw_Complete"], False, None, ("GREEN", OF, W, W, W, W, W)),
    (["fits_Requested", "raw_Complete", "raw_Incomplete"], False, None, ("GREEN", W, W, W, W, W, W)),
    ([*BASE, "cal_AB"], False, None, ("GREEN", OF, OF, W, W, W, W)),
    ([*BASE, "cal_AB", "cal_Queued"], False, None, ("GREEN", OF, OF, W, W, W, W)),
    ([*BASE, "cal_AB", "cal_Queued", "cal_QC"], False, None, ("GREEN", OF, OF, OF, W, W, W)),
    ([*BASE, "cal_AB", "cal_Queued", "cal_QC"], True, None, ("YELLOW", OF, OF, OF, OF, W, W)),
    ([*BASE, "cal_AB", "cal_Queued", "cal_QC", "cal_Certif"], False, None, ("GREEN", D, W, D, W, W, W)),
    ([*BASE, "cal_AB", "cal_Queued", "cal_QC", "cal_Certif", "cal_Updated"], False, None, ("GREEN", D, W, D, W, OF, W)),
    (
        [*BASE, "cal_AB", "cal_Queued", "cal_QC", "cal_Certif", "cal_Updated", "finished"],
        False,
        None,
        ("GREEN", D, W, D, W, D, OF),
    ),
    (
        [*BASE, "cal_AB", "cal_Queued", "cal_QC", "cal_Certif", "cal_Updated", "finished", "removed"],
        False,
        None,
        ("GREEN", D, W, D, W, D, OF),
    ),
    # SCIENCE flags do not take the CALIB steps away: createAB -m CALIB stays offered (CALIB has not run)
    ([*BASE, "sci_AB"], False, 0, ("GREEN", OF, W, W, W, OF, W)),  # sci_AB with zero ABs offers finish
    ([*BASE, "sci_AB"], False, 3, ("GREEN", OF, W, W, W, W, W)),
    ([*BASE, "sci_AB"], False, None, ("GREEN", OF, W, W, W, W, W)),  # no SCIENCE AB list: unknown, not zero
    ([*BASE, "sci_AB", "sci_Queued", "sci_QC", "sci_Updated"], False, None, ("GREEN", OF, W, W, W, OF, W)),
    # OFFER wins over DONE: createAB stays offered when ABs are re-created after cal_QC
    ([*BASE, "cal_AB", "cal_Queued", "cal_QC", "cal_AB"], False, None, ("GREEN", OF, OF, W, W, W, W)),
    # re-created after certification: createAB and ABs offered again, certify/move stays done
    ([*BASE, "cal_AB", "cal_Queued", "cal_QC", "cal_Certif", "cal_AB"], False, None, ("GREEN", OF, OF, D, W, W, W)),
    # cal_QC again after a re-run offers certify/move although it is done
    ([*BASE, "cal_AB", "cal_QC", "cal_Certif", "cal_AB", "cal_QC"], False, None, ("GREEN", OF, OF, OF, W, W, W)),
]


@pytest.mark.parametrize(("flags", "today", "n_sci", "expected"), TABLE)
def test_decision_table(flags: list[str], today: bool, n_sci: int | None, expected: tuple[str, ...]) -> None:
    shown = steps(flags, today, n_sci)
    assert {name: shown[name] for name in CALIB_COLUMNS} == dict(zip(CALIB_COLUMNS, expected, strict=True))


CAL = [*BASE, "cal_AB"]
CAL_DONE = [*CAL, "cal_Queued", "cal_QC", "cal_Certif", "cal_Updated"]
# (flags, n_sci_abs) -> CALIB createAB, ABs, certify/move; SCIENCE createAB, ABs, certify/move; finish
BOTH_MODES = [
    (BASE, None, (OF, W, W, W, W, W, W)),  # SCIENCE createAB waits for the CALIB ABs (their virtual calibrations)
    (CAL, None, (OF, OF, W, OF, W, W, W)),
    ([*CAL, "sci_AB"], 2, (OF, OF, W, OF, OF, W, W)),  # sci_AB after cal_AB: both modes keep their steps
    ([*CAL, "sci_AB", "cal_Queued", "sci_Queued"], 2, (OF, OF, W, OF, OF, W, W)),
    ([*CAL, "sci_AB", "cal_Queued", "cal_QC"], 2, (OF, OF, OF, OF, OF, W, W)),
    ([*CAL, "sci_AB", "sci_Queued", "sci_QC"], 2, (OF, OF, W, OF, OF, OF, W)),
    ([*CAL, "sci_AB", "sci_Queued", "sci_QC", "sci_Certif"], 2, (OF, OF, W, D, W, D, W)),
    # CALIB moved, SCIENCE half-way: finish waits for the SCIENCE move
    ([*CAL_DONE[:-2], "sci_AB", "sci_Queued", "sci_QC", *CAL_DONE[-2:]], 2, (D, W, D, OF, OF, OF, W)),
    ([*CAL_DONE, "sci_AB", "sci_Queued", "sci_QC", "sci_Certif", "sci_Updated"], 2, (D, W, D, D, W, D, OF)),
    # SCIENCE moved first, CALIB half-way: finish waits for the CALIB move
    ([*CAL, "cal_Queued", "cal_QC", "sci_AB", "sci_Queued", "sci_QC", "sci_Certif", "sci_Updated"], 2,
     (OF, OF, OF, D, W, D, W)),
    ([*CAL_DONE, "sci_AB"], 0, (D, W, D, OF, OF, W, OF)),  # no SCIENCE AB: nothing left, finish
    ([*CAL, "sci_AB"], 0, (OF, OF, W, OF, OF, W, W)),  # ... but not while CALIB is half-way
    ([*CAL_DONE, "sci_AB"], 3, (D, W, D, OF, OF, W, W)),
    ([*CAL_DONE, "sci_AB", "finished"], 3, (D, W, D, D, W, W, D)),  # finished: nothing is offered any more
    (["fits_Requested", "raw_Incomplete", "cal_AB"], None, (OF, OF, W, W, W, W, W)),  # raw_Incomplete last for SCIENCE
]


@pytest.mark.parametrize(("flags", "n_sci", "expected"), BOTH_MODES)
def test_both_modes_side_by_side(flags: list[str], n_sci: int | None, expected: tuple[str, ...]) -> None:
    names = ("create_ab", "abs", "certify_move", "sci_create_ab", "sci_abs", "sci_certify_move", "finish")
    shown = steps(flags, False, n_sci)
    assert {name: shown[name] for name in names} == dict(zip(names, expected, strict=True))


def test_each_mode_says_how_far_it_got() -> None:
    view = evaluate_date(DAY, [*CAL, "sci_AB", "cal_Queued", "sci_Queued", "cal_QC", "sci_QC", "sci_Certif"],
                         is_today=False)
    assert (view.progress("CALIB"), view.progress("SCIENCE")) == ("processed", "certified")
    assert view.to_json()["progress"] == {"CALIB": "processed", "SCIENCE": "certified"}
    fresh = evaluate_date(DAY, BASE, is_today=False)
    assert (fresh.progress("CALIB"), fresh.progress("SCIENCE")) == (None, None)
    moved = evaluate_date(DAY, [*CAL_DONE, "sci_AB", "sci_Queued"], is_today=False)
    assert (moved.progress("CALIB"), moved.progress("science")) == ("moved", "queued")


CAL_MOVED = [*BASE, "cal_AB", "cal_Queued", "cal_QC", "cal_Certif", "cal_Updated"]
SCI_MOVED = ["sci_AB", "sci_Queued", "sci_QC", "sci_Certif", "sci_Updated"]


@pytest.mark.parametrize(("flags", "n_cal", "n_sci", "finish"), [
    (CAL_MOVED, 5, None, OF),  # no SCIENCE AB list
    (CAL_MOVED, 5, 0, OF),  # no SCIENCE AB
    (CAL_MOVED, 5, 3, W),  # three SCIENCE ABs not moved yet: finish would refuse
    ([*BASE, "cal_AB", "sci_AB", "sci_Queued", "sci_QC", "sci_Certif", "cal_Certif", "cal_Updated"], 5, 3, W),
    ([*CAL_MOVED, *SCI_MOVED], 5, 3, OF),  # both moved
    ([*BASE, "cal_AB", "cal_QC", *SCI_MOVED], 5, 3, W),  # SCIENCE moved, CALIB not
    ([*BASE, *SCI_MOVED], 0, 3, OF),  # no CALIB AB
    ([*BASE, "cal_AB", "sci_AB"], 5, 0, W),  # zero SCIENCE ABs, but CALIB is not moved
    ([*CAL_MOVED, "sci_AB"], 5, 0, OF),
    ([*CAL_MOVED, *SCI_MOVED, "finished"], 5, 3, D),
])
def test_finish_waits_for_every_mode_that_has_abs(flags: list[str], n_cal: int | None, n_sci: int | None,
                                                   finish: str) -> None:
    view = evaluate_date(DAY, flags, is_today=False, facts=DateFacts(n_sci_abs=n_sci, n_cal_abs=n_cal))
    assert view.finish.value == finish


def test_issue_example_shape() -> None:
    view = evaluate_date(
        DAY, ["fits_Requested", "raw_Complete", "cal_AB", "cal_Queued", "cal_QC"], is_today=False
    )
    assert view.to_json() == {
        "date": "2013-02-11",
        "today": False,
        "last_flag": "cal_QC",
        "flags": ["fits_Requested", "raw_Complete", "cal_AB", "cal_Queued", "cal_QC"],
        "steps": {
            "complete": "GREEN",
            "create_ab": "OFFER",
            "abs": "OFFER",
            "certify_move": "OFFER",
            "certify_light": "WAIT",
            "sci_create_ab": "OFFER",
            "sci_abs": "WAIT",
            "sci_certify_move": "WAIT",
            "finish": "WAIT",
            "remove": "WAIT",
        },
        "progress": {"CALIB": "processed", "SCIENCE": None},
    }


def test_non_workflow_tokens_do_not_become_the_last_flag() -> None:
    view = evaluate_date(DAY, [*BASE, "cal_AB", "cal_Queued", "cal_QC", "xdm_HDR"], is_today=False)
    assert view.last_flag == "cal_QC"
    assert view.certify_move.value == "OFFER"
    assert "xdm_HDR" not in view.flags


def test_flags_listed_once_in_order_of_first_appearance() -> None:
    view = evaluate_date(DAY, [*BASE, "cal_AB", "cal_QC", "cal_AB", "cal_QC"], is_today=False)
    assert view.flags == ("fits_Requested", "raw_Complete", "cal_AB", "cal_QC")


def _d(day: int) -> date:
    return date(2013, 2, day)


def test_listing_rules() -> None:
    flags = {
        "2013-02-10": ["fits_Requested"],
        "2013-02-11": ["fits_Requested", "finished", "removed"],  # removed: hidden
        "2013-02-12": ["raw_Complete"],  # no fits_Requested: hidden
        "2013-02-13": ["fits_Requested"],  # no raw directory: hidden
        "2013-02-14": ["fits_Requested"],
    }
    headers = [_d(d) for d in (10, 11, 12, 13, 14)]
    raw = [_d(d) for d in (10, 11, 12, 14)]
    assert listed_dates(flags, headers, raw, n_dfo_hdr=20) == [_d(14), _d(10)]


def test_listing_keeps_only_the_newest_header_dates() -> None:
    flags = {f"2013-02-{d:02d}": ["fits_Requested"] for d in range(1, 11)}
    days = [_d(d) for d in range(1, 11)]
    assert listed_dates(flags, days, days, n_dfo_hdr=3) == [_d(10), _d(9), _d(8)]
    # a date without a header directory does not count against N_DFO_HDR and is not listed
    assert listed_dates(flags, days[:-1], days, n_dfo_hdr=2) == [_d(9), _d(8)]


def test_listing_takes_the_newest_header_dates_before_filtering() -> None:
    flags = {f"2013-02-{d}": ["fits_Requested"] for d in range(10, 15)}
    flags["2013-02-14"].append("removed")
    days = [_d(d) for d in range(10, 15)]
    # the newest two header dates are the 14th (removed) and the 13th: only the 13th is shown
    assert listed_dates(flags, days, days, n_dfo_hdr=2) == [_d(13)]
