"""Calibration matching: time rules, windows as quality levels, ties, and the index against brute force."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dfos.association.frames import Frame
from dfos.association.match import Calib, CalibIndex, SelectPlan, match_select
from dfos.oca.evaluate import compile_condition
from dfos.oca.parser import parse_rules
from dfos.oca.syntax import Select


def select(text: str) -> Select:
    rules = parse_rules(f"action A {{ {text} }}")
    return rules.actions["A"].selects[0]


def calib(name: str, mid: float, **keys: Any) -> Calib:
    header = {"DO.CATG": "MASTER_BIAS", "DET.BINX": 1, "OBS.ID": 7, **keys}
    return Calib(Frame(name, header, header), f"$X/{name}", f"/data/{name}", mid)


FIRST = Frame("raw.fits", {"DET.BINX": 1, "OBS.ID": 7, "MJD-OBS": 100.0})
BIAS = 'select file as MB from calibFiles where DO.CATG == "MASTER_BIAS" and inputFile.DET.BINX == DET.BINX'


def run(text: str, calibs: list[Calib], at: float = 100.0) -> list[str]:
    chosen = select(text)
    result = match_select(chosen, SelectPlan.of(chosen), FIRST, at, CalibIndex(calibs))
    return [c.name for c in result.taken]


def test_closest_previous_next() -> None:
    pool = [calib("a", 98.0), calib("b", 99.5), calib("c", 100.4), calib("d", 103.0)]
    assert run(f"{BIAS} using CLOSEST;", pool) == ["c"]
    assert run(f"{BIAS} using PREVIOUS;", pool) == ["b"]
    assert run(f"{BIAS} using NEXT;", pool) == ["c"]
    assert run(f"minRet = 1; maxRet = 3; {BIAS};", pool) == ["c", "b", "a"]


def test_ties_go_to_the_earlier_then_the_smaller_name() -> None:
    assert run(f"{BIAS};", [calib("late", 101.0), calib("early", 99.0)]) == ["early"]
    assert run(f"{BIAS};", [calib("zeta", 99.0), calib("alpha", 99.0)]) == ["alpha"]


def test_windows_are_quality_levels() -> None:
    text = f"{BIAS} using CLOSEST within 1, 7 days;"
    chosen = select(text)
    pool = CalibIndex([calib("far", 103.0), calib("farther", 108.5)])
    result = match_select(chosen, SelectPlan.of(chosen), FIRST, 100.0, pool)
    assert [c.name for c in result.taken] == ["far"] and result.level == 1
    outside = match_select(chosen, SelectPlan.of(chosen), FIRST, 100.0, CalibIndex([calib("x", 120.0)]))
    assert outside.taken == () and outside.missing
    assert any("outside the widest window (7 days)" in c.reason for c in outside.considered)


def test_attached_needs_the_same_ob() -> None:
    pool = [calib("other_ob", 100.1, **{"OBS.ID": 8}), calib("same_ob", 102.0)]
    assert run(f"{BIAS} using ATTACHED;", pool) == ["same_ob"]


def test_mismatched_keys_are_explained() -> None:
    chosen = select(f"{BIAS};")
    pool = CalibIndex([calib("binned", 100.0, **{"DET.BINX": 2})])
    result = match_select(chosen, SelectPlan.of(chosen), FIRST, 100.0, pool)
    assert result.taken == ()
    assert [(c.name, c.reason) for c in result.considered] == [
        ("binned", "DET.BINX is 2, the raw frame has 1")]


def test_max_ret_zero_switches_the_input_off() -> None:
    assert run(f"minRet = 0; maxRet = 0; {BIAS};", [calib("a", 100.0)]) == []


candidates = st.lists(
    st.tuples(st.sampled_from(["MASTER_BIAS", "MASTER_DARK"]),
              st.sampled_from([1, 2, 1.0, "1", "1.0", "2", "x", True]),  # the types headers really mix
              st.integers(0, 3), st.floats(90, 110, allow_nan=False)),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(candidates, st.floats(90, 110, allow_nan=False), st.integers(1, 3))
def test_the_index_finds_what_brute_force_finds(pool: list[tuple[str, Any, int, float]], at: float,
                                                max_ret: int) -> None:
    text = (f"minRet = 0; maxRet = {max_ret}; select file as MB from calibFiles where DO.CATG == \"MASTER_BIAS\" "
            "and inputFile.DET.BINX == DET.BINX and QUAL != 3;")
    chosen = select(text)
    calibs = [calib(f"c{i}", mid, **{"DO.CATG": catg, "DET.BINX": binx, "QUAL": qual})
              for i, (catg, binx, qual, mid) in enumerate(pool)]
    result = match_select(chosen, SelectPlan.of(chosen), FIRST, at, CalibIndex(calibs))
    predicate = compile_condition(chosen.condition)
    eligible = [c for c in calibs if predicate(c.frame.header, FIRST.header)]
    eligible.sort(key=lambda c: (abs(c.mid - at), c.mid > at, c.name))
    assert [c.name for c in result.taken] == [c.name for c in eligible[:max_ret]]
