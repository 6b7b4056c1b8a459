"""Replacing a release on a real catalog: FITS files archived by the workspace archive (real copies, real
SQLite), hidden for a range (static calibrations stay visible), shown again, hidden again; the raw2raw window;
every change in the release log; the command line's one-line errors and exit codes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from conftest import reopen
from dfos.archive.releases import Action, Window
from dfos.cli.main import main
from dfos.errors import NotFound, StateError, UsageError
from dfos.steps.fetch import fetch_master
from dfos.steps.ingest import WorkspaceArchive, ingest_static
from dfos.steps.release import (
    catalog_entries,
    hidden_counts,
    hide,
    lift_window,
    memory_policy,
    open_window,
    read_events,
    release_log,
    undo,
    window,
)
from dfos.steps.static_calib import gen_dir
from dfos.workspace import Workspace

OLD = {"UV_MBIA_130212A_BLUE.fits": date(2013, 2, 12), "UV_MFLA_130301A_BLUE.fits": date(2013, 3, 1),
       "UV_MBIA_140105A_BLUE.fits": date(2014, 1, 5)}
SCI = {"UV_SOBF_130212A_BLUE.fits": date(2013, 2, 12)}
STATIC = "UV_STATIC_LINES.fits"
YEAR = (date(2013, 1, 1), date(2013, 12, 31))


def _fits(path: Path, catg: str) -> Path:
    from astropy.io import fits

    path.parent.mkdir(parents=True, exist_ok=True)
    header = fits.Header()
    header["HIERARCH ESO PRO CATG"] = catg
    header["MJD-OBS"] = 56335.5
    fits.PrimaryHDU(header=header).writeto(path)
    return path


@pytest.fixture
def archived(workspace: Workspace) -> Workspace:
    """Certified masters of three dates, a science product and a static calibration in the archive."""
    ws = reopen(workspace, DFOS_NOW="2013-06-01T12:00:00")
    archive = WorkspaceArchive(ws)
    for name, day in OLD.items():
        archive.ingest(_fits(ws.cal_dir / day.isoformat() / name, "MASTER_BIAS_BLUE"), day, "CALIB", "x.ab",
                       "MASTER_BIAS_BLUE")
    for name, day in SCI.items():
        archive.ingest(_fits(ws.sci_dir / day.isoformat() / name, "RED_SCI_POINT_BLUE"), day, "SCIENCE", "y.ab",
                       "RED_SCI_POINT_BLUE")
    _fits(gen_dir(ws) / STATIC, "LINE_REFER_TABLE")
    assert ingest_static(ws) == (STATIC,)  # archived under TODAY: 2013-06-01, inside the year
    return ws


def _states(ws: Workspace) -> dict[str, str]:
    return {e.name: e.state for e in catalog_entries(ws, date(2000, 1, 1), date(2099, 1, 1))}


def test_hide_a_year_keeps_static_ones_and_other_years_undo_and_hide_again(archived: Workspace) -> None:
    ws = archived
    dry = hide(ws, "R2", *YEAR, dry_run=True)
    assert {e.name for e in dry.hidden} == {"UV_MBIA_130212A_BLUE.fits", "UV_MFLA_130301A_BLUE.fits"}
    assert not release_log(ws).exists() and "hidden" not in " ".join(_states(ws).values())  # nothing changed

    result = hide(ws, "R2", *YEAR)
    assert {e.name for e in result.hidden} == {"UV_MBIA_130212A_BLUE.fits", "UV_MFLA_130301A_BLUE.fits"}
    assert [e.name for e in result.static] == [STATIC]
    assert _states(ws) == {"UV_MBIA_130212A_BLUE.fits": "hidden by R2", "UV_MFLA_130301A_BLUE.fits": "hidden by R2",
                           "UV_MBIA_140105A_BLUE.fits": "visible", "UV_SOBF_130212A_BLUE.fits": "visible",
                           STATIC: "static"}
    listed = WorkspaceArchive(ws).lookup("UV_MBIA_130212A_BLUE.fits")
    assert listed is not None and listed.hidden_by == "R2"  # still listed
    assert memory_policy(ws).hidden == {"UV_MBIA_130212A_BLUE.fits": "R2", "UV_MFLA_130301A_BLUE.fits": "R2"}
    log = release_log(ws).read_text()
    assert "2013-06-01T12:00:00 hide R2 UV_MBIA_130212A_BLUE.fits 2013-02-12 CALIB\n" in log
    assert len(log.splitlines()) == 2

    again = hide(ws, "R2", *YEAR)  # repeated: nothing changes
    assert again.hidden == () and len(again.already) == 2 and release_log(ws).read_text() == log
    other = hide(ws, "R3", *YEAR)  # another release takes nothing hidden already
    assert other.hidden == () and _states(ws)["UV_MFLA_130301A_BLUE.fits"] == "hidden by R2"

    shown = undo(ws, "R2")
    assert {e.name for e in shown.shown} == {"UV_MBIA_130212A_BLUE.fits", "UV_MFLA_130301A_BLUE.fits"}
    assert set(_states(ws).values()) == {"visible", "static"}
    assert undo(ws, "R2").shown == ()  # nothing left to undo: nothing changes
    with pytest.raises(NotFound, match="no release R9 in"):
        undo(ws, "R9")

    science = hide(ws, "R2", *YEAR, kind="SCIENCE")
    assert [e.name for e in science.hidden] == ["UV_SOBF_130212A_BLUE.fits"]
    assert len(hide(ws, "R2", *YEAR, kind="ALL").hidden) == 2
    assert hidden_counts(ws) == {"R2": 3}  # R3 hid nothing: no line names it
    actions = [(e.action, e.release, e.subject) for e in read_events(ws)]
    assert actions[:2] == [(Action.HIDE, "R2", "UV_MBIA_130212A_BLUE.fits"),
                           (Action.HIDE, "R2", "UV_MFLA_130301A_BLUE.fits")]
    assert actions[2:4] == [(Action.SHOW, "R2", "UV_MBIA_130212A_BLUE.fits"),
                            (Action.SHOW, "R2", "UV_MFLA_130301A_BLUE.fits")]
    assert [a for a, _, _ in actions[4:]] == [Action.HIDE] * 3


def test_a_hidden_master_is_not_fetched_back(archived: Workspace) -> None:
    ws = archived
    local = ws.cal_dir / "2013-02-12" / "UV_MBIA_130212A_BLUE.fits"
    local.unlink()  # cleanupProducts made room: only the archive has it
    hide(ws, "R2", *YEAR)
    with pytest.raises(NotFound, match="hidden in the archive by release R2: 'dfos release undo --release R2'"):
        fetch_master(ws, "2013-02-12/UV_MBIA_130212A_BLUE.fits")
    assert not local.exists()
    undo(ws, "R2")
    assert fetch_master(ws, "2013-02-12/UV_MBIA_130212A_BLUE.fits") == local and local.is_file()


def test_one_raw2raw_window_at_a_time_lifted_by_hand_or_by_undo(archived: Workspace) -> None:
    ws = archived
    assert window(ws) is None
    opened = open_window(ws, date(2013, 2, 1), date(2013, 2, 28), "R2")
    assert window(ws) == opened == Window(date(2013, 2, 1), date(2013, 2, 28), "R2")
    assert memory_policy(ws).window == opened
    with pytest.raises(StateError, match=r"already set \(2013-02-01..2013-02-28, release R2\)"):
        open_window(ws, date(2013, 3, 1), date(2013, 3, 2))
    assert lift_window(ws) == opened and window(ws) is None
    with pytest.raises(StateError, match="no raw2raw window is set"):
        lift_window(ws)
    with pytest.raises(UsageError, match="after --to"):
        open_window(ws, date(2013, 3, 2), date(2013, 3, 1))
    open_window(ws, date(2013, 3, 1), date(2013, 3, 2), "R4")
    assert undo(ws, "R4").lifted == Window(date(2013, 3, 1), date(2013, 3, 2), "R4") and window(ws) is None
    assert [(e.action, e.subject) for e in read_events(ws)] == [
        (Action.RAW2RAW, "2013-02-01..2013-02-28"), (Action.RAW2MASTER, "2013-02-01..2013-02-28"),
        (Action.RAW2RAW, "2013-03-01..2013-03-02"), (Action.RAW2MASTER, "2013-03-01..2013-03-02")]


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["hide", "--release", "R2", "--from", "2013-12-31", "--to", "2013-01-01"], 2,
     "--from 2013-12-31 is after --to 2013-01-01"),
    (["hide", "--from", "2013-01-01", "--to", "2013-12-31"], 2, "give the new release with --release ID"),
    (["hide", "--release", "a b", "--from", "2013-01-01", "--to", "2013-12-31"], 2, "is not 1 to 64 letters"),
    (["hide", "--release", "R2", "--from", "2013-01-01"], 2, "give the range with --from DATE --to DATE"),
    (["undo", "--release", "R9"], 2, "no release R9 in"),
    (["raw2raw", "--lift"], 3, "no raw2raw window is set"),
    (["raw2raw", "--from", "2013-02-01", "--to", "2013-01-01"], 2, "after --to"),
])
def test_bad_input_is_one_line_and_an_exit_code(capsys: pytest.CaptureFixture[str], workspace: Workspace,
                                                argv: list[str], code: int, message: str) -> None:
    assert main(["--root", str(workspace.root), "release", *argv]) == code
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_the_commands_print_what_they_change(capsys: pytest.CaptureFixture[str], archived: Workspace) -> None:
    root = ["--root", str(archived.root), "--set", "NOW=2013-06-01T12:00:00", "release"]
    assert main([*root, "hide", "--release", "R2", "--from", "2013-01-01", "--to", "2013-12-31", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would hide 2013-02-12 CALIB UV_MBIA_130212A_BLUE.fits" in out
    assert "2 would hide, 0 hidden before, 1 static calibrations kept visible" in out
    assert main([*root, "hide", "--release", "R2", "--from", "2013-01-01", "--to", "2013-12-31"]) == 0
    assert "R2 2013-01-01..2013-12-31 CALIB: 2 hidden, 0 hidden before, 1 static" in capsys.readouterr().out
    assert main([*root, "raw2raw", "--from", "2013-01-01", "--to", "2013-12-31", "--release", "R2"]) == 0
    assert main([*root, "raw2raw", "--from", "2013-01-01", "--to", "2013-02-01"]) == 3
    assert "already set" in capsys.readouterr().err
    assert main([*root, "status", "--from", "2013-01-01", "--to", "2013-12-31"]) == 0
    out = capsys.readouterr().out
    assert "release R2: hides 2 entries" in out and "raw2raw 2013-01-01..2013-12-31 release R2" in out
    assert "OPEN" in out and f"{STATIC}  static" in out and "UV_MBIA_130212A_BLUE.fits  hidden by R2" in out
    assert main([*root, "raw2raw", "--off"]) == 0
    assert main([*root, "undo", "--release", "R2"]) == 0
    assert "R2: 2 shown again" in capsys.readouterr().out


def test_a_year_of_masters_is_hidden_in_one_go(workspace: Workspace) -> None:
    from sqlalchemy import insert

    from dfos.db import archive_catalog, engine_for_url

    rows = [dict(name=f"UV_MBIA_13{m:02d}{d:02d}{k}_BLUE.fits", path="-", date=f"2013-{m:02d}-{d:02d}", mode="CALIB",
                 ab="-", pro_catg="MASTER_BIAS_BLUE", size=1, sha256="0" * 64, source="-", ingested="-")
            for m in range(1, 13) for d in range(1, 29) for k in "ABCD"]
    with engine_for_url(workspace.db_url).begin() as db:
        db.execute(insert(archive_catalog), rows)
    assert len(hide(workspace, "R2", *YEAR).hidden) == len(rows) == 1344
    assert set(_states(workspace).values()) == {"hidden by R2"}
    assert len(read_events(workspace)) == len(rows)
