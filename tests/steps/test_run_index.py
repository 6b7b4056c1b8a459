"""DEEP mode's index of the runs whose science each date's headers hold: built once per date, read instead of
every header, made anew when the date's headers change."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from dfos.steps.create_ab import create_run_abs
from dfos.steps.demo_data import write_demo_headers
from dfos.steps.run_index import INDEX_DIR, run_of, runs_of_date
from dfos.workspace import init_workspace, open_workspace

RUN = "113.26XA.001"  # the header nights' science run (ESO's run IDs from period 110 on)


def test_the_index_names_a_runs_science_headers_and_follows_changes(tmp_path: Path) -> None:
    init_workspace(tmp_path / "ws", env={}, instrument="NACO", flavour="phoenix")
    ws = open_workspace(tmp_path / "ws", env={"DFOS_NOW": "2013-03-02T14:00:00"})
    nights = (date(2013, 2, 12), date(2013, 2, 13))
    for night in nights:
        write_demo_headers(ws, night)
    runs = runs_of_date(ws, nights[0])
    assert list(runs) == [RUN] and len(runs[RUN]) == 12  # the science frames, not the acquisition or calibrations
    assert (ws.mon_dir / INDEX_DIR / "2013-02-12.json").is_file()

    folder = ws.hdr_dir / "2013-02-12"
    some = folder / runs[RUN][0]
    stat = folder.stat()
    some.write_text("not a header\n")  # rewritten in place: the directory is unchanged, the index stands
    os.utime(folder, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert runs_of_date(ws, nights[0]) == runs
    some.unlink()  # a header fewer: made anew
    assert len(runs_of_date(ws, nights[0])[RUN]) == 11

    result = create_run_abs(ws, RUN)  # DEEP -C reads the run's headers through the index
    assert result.abs and all(ab.name.endswith("_deep.ab") for ab in result.abs)
    assert sum(len(ab.rawfiles) for ab in result.abs) == 11 + 12  # both nights' science, in deep ABs


def test_the_run_an_obs_prog_id_names() -> None:
    assert run_of("090.C-0456(A)") == "090.C-0456A" == run_of("090.C-0456A") and run_of(RUN) == RUN
    assert run_of("2013-02-12") is None and run_of("60.A-9022") is None and run_of(None) is None
