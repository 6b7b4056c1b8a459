"""The date table's file-system facts: how many ABs of each mode must be moved before a date closes."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from dfos.ab.lists import ABList, write_ab_list
from dfos.ab.model import Completeness
from dfos.keys import Mode
from dfos.steps.finish import modes_with_abs
from dfos.steps.status import ab_count, date_table, runnable_count
from dfos.workspace import Workspace, init_workspace, open_workspace

DAY = date(2013, 2, 12)


def _workspace(tmp_path: Path) -> Workspace:
    ws, _ = init_workspace(tmp_path / "ws", env={}, instrument="UVES")
    return open_workspace(ws.root, env={"DFOS_NOW": "2013-02-14T14:00:00"})


def test_incomplete_science_abs_do_not_keep_a_date_open(tmp_path: Path) -> None:
    """UVES science lacks static line tables: its SCIENCE ABs are INCOMPLETE, so only CALIB must be moved."""
    ws = _workspace(tmp_path)
    write_ab_list(ws.ab_list(Mode.CALIB, DAY), [ABList("B.ab", "BIAS", "mbias", Completeness.COMPLETE, done=True)])
    write_ab_list(ws.ab_list(Mode.SCIENCE, DAY), [ABList(f"S{i}.ab", "SCI", "scired", Completeness.INCOMPLETE)
                                                   for i in range(2)])
    assert (ab_count(ws.ab_list(Mode.SCIENCE, DAY)), runnable_count(ws.ab_list(Mode.SCIENCE, DAY))) == (2, 0)
    assert modes_with_abs(ws, DAY) == [Mode.CALIB]
    for flag in ("fits_Requested", "raw_Complete", "cal_AB", "cal_Queued", "cal_QC", "sci_AB", "cal_Certif",
                 "cal_Updated"):
        ws.status_log.append(flag, DAY.isoformat(), datetime(2013, 2, 13))
    (ws.hdr_dir / DAY.isoformat()).mkdir(parents=True)
    (ws.raw_dir / DAY.isoformat()).mkdir(parents=True)
    (view,) = date_table(ws).rows
    assert view.finish.value == "OFFER" and view.extra == {"n_cal_abs": 1, "n_sci_abs": 2}
    write_ab_list(ws.ab_list(Mode.SCIENCE, DAY), [ABList("S0.ab", "SCI", "scired", Completeness.COMPLETE)])
    assert modes_with_abs(ws, DAY) == [Mode.CALIB, Mode.SCIENCE]  # a science AB that can run must be moved
    (view,) = date_table(ws).rows
    assert view.finish.value == "WAIT"
