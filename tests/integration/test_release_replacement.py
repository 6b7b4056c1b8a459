"""Replacing a release on two NACO nights with the real recipes (docs/releases.md).

Night 1 (2013-02-11) is calibrated but not certified: its CALIB ABs' products are virtual products (VCAL),
made from raw frames.  Night 2 (2013-02-12) is calibrated, certified, moved and ingested: its masters are the
old release's certified masters (MCAL), and the standard-star catalogue is archived as a static calibration.
Night 2's science takes night 2's certified flats; a raw2raw window over both nights makes it take night 1's
virtual flats instead (``dfos explain`` says why), lifting it brings the masters back.  Hiding the year in the
archive hides night 2's masters (the static catalogue stays visible), keeps them out of association, and is
undone and done again; every change is in the release log.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pytest

from dfos.ab.store import read_ab
from dfos.archive.releases import Action
from dfos.instruments.naco import Naco
from dfos.keys import BatchId, Mode, Stage, mode_flag
from dfos.steps.cascade import exec_cascade
from dfos.steps.certify import ACCEPT, Decision, certify
from dfos.steps.create_ab import create_abs, explain_text
from dfos.steps.create_job import create_job
from dfos.steps.demo_data import generate_night
from dfos.steps.headers import extract_headers
from dfos.steps.ingest import ingest, ingest_static
from dfos.steps.move import move
from dfos.steps.release import catalog_entries, hide, lift_window, open_window, read_events, undo
from dfos.steps.static_calib import install_static
from dfos.workspace import Workspace, init_workspace, open_workspace

pytestmark = pytest.mark.esorex

FIRST, SECOND = date(2013, 2, 11), date(2013, 2, 12)
STATIC = "NA_GSTD_SYNTH.fits"
CALIBS = {"CAL_FLAT_TW", "CAL_DARK", "CAL_STD_JITTER"}


def _run(ws: Workspace, mode: Mode, day: date) -> int:
    create_abs(ws, day, mode)
    create_job(ws, day, mode)
    dag = BatchId.of(mode, day).render()
    succeeded = exec_cascade(ws, dag, ws.job_dir / f"execAB_{dag}").counts["succeeded"]
    ws.status_log.append(mode_flag(mode, Stage.QC), day.isoformat(), datetime(2013, 2, 14))
    return succeeded


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root, _ = init_workspace(tmp_path_factory.mktemp("release") / "ws", env={}, instrument="NACO")
    ws = open_workspace(root.root, env={"DFOS_NOW": "2013-02-14T14:00:00"})
    install_static(ws, Naco())
    generate_night(ws, FIRST, small=True, seed=11, only=CALIBS)
    extract_headers(ws, FIRST)
    assert _run(ws, Mode.CALIB, FIRST) == 5  # night 1: virtual products only
    generate_night(ws, SECOND, small=True, seed=12, only=CALIBS)
    extract_headers(ws, SECOND)
    assert _run(ws, Mode.CALIB, SECOND) == 5
    rows = create_abs(ws, SECOND, Mode.CALIB).abs
    certify(ws, Mode.CALIB, SECOND, [Decision(ab.name, ACCEPT, "fine") for ab in rows], user="anna")
    move(ws, Mode.CALIB, SECOND)
    generate_night(ws, SECOND, small=True, seed=12, only={*CALIBS, "IM_JITTER_OBJ"})  # the science of night 2
    extract_headers(ws, SECOND)
    yield ws


def _flats(ws: Workspace) -> dict[str, str]:
    """Night 2's science AB -> its flat."""
    abs_ = create_abs(ws, SECOND, Mode.SCIENCE).abs
    return {ab.name: c.sof_path for ab in abs_ for c in read_ab(ws.ab_dir, ab.name).mcalib
            if c.tag == "MASTER_IMG_FLAT"}


def _virtual(flats: dict[str, str]) -> bool:
    return bool(flats) and all(f.startswith("$DFS_PRODUCT/CAL_FLAT_TW/2013-02-11/") for f in flats.values())


def _certified(flats: dict[str, str]) -> bool:
    return bool(flats) and all(f.startswith("$DFO_CAL_DIR/2013-02-12/NA_MFLT_130212A_") for f in flats.values())


def test_replacing_a_release(nights: Workspace) -> None:
    ws = nights
    assert _certified(_flats(ws))  # raw2master: the certified flats of the night

    # 1. raw2raw over both nights: the science takes the virtual flats of night 1, and explain says why
    open_window(ws, FIRST, SECOND, "R2")
    flats = _flats(ws)
    assert _virtual(flats)
    assert any(n.startswith("2013-02-12/NA_MFLT_130212A_") for n in create_abs(ws, SECOND, Mode.SCIENCE).skipped)
    name = next(iter(flats))
    why = explain_text(ws, name)
    assert "skipped MCAL 2013-02-12/NA_MFLT_130212A_" in why
    assert "inside the raw2raw window 2013-02-11..2013-02-12 of release R2" in why
    std = next(ab for ab in create_abs(ws, FIRST, Mode.CALIB).abs if ab.raw_type == "CAL_STD_JITTER")
    assert any(c.sof_path == f"$DFO_CAL_DIR/GEN/{STATIC}" for c in read_ab(ws.ab_dir, std.name).mcalib)  # static

    # 2. lifted: raw2master again
    lift_window(ws)
    assert _certified(_flats(ws))
    assert "skipped MCAL" not in explain_text(ws, name)

    # 3. the old masters in the archive, hidden for the year: the static catalogue stays visible
    masters = set(ingest(ws, Mode.CALIB, SECOND).ingested)
    assert ingest_static(ws) == (STATIC,)
    hidden = hide(ws, "R2", date(2013, 1, 1), date(2013, 12, 31))
    assert {e.name for e in hidden.hidden} == masters and [e.name for e in hidden.static] == [STATIC]
    states = {e.name: e.state for e in catalog_entries(ws, date(2013, 1, 1), date(2013, 12, 31))}
    assert states == {**dict.fromkeys(masters, "hidden by R2"), STATIC: "static"}
    assert _virtual(_flats(ws))  # hidden masters are not associated
    assert "hidden in the archive by release R2" in explain_text(ws, name)

    # 4. undone, hidden again
    assert {e.name for e in undo(ws, "R2").shown} == masters
    assert _certified(_flats(ws))
    assert {e.name for e in hide(ws, "R2", date(2013, 1, 1), date(2013, 12, 31)).hidden} == masters
    assert hide(ws, "R2", date(2013, 1, 1), date(2013, 12, 31)).hidden == ()  # again: nothing changes

    # every change in the log
    events = [(e.action, e.subject) for e in read_events(ws)]
    assert events[:2] == [(Action.RAW2RAW, "2013-02-11..2013-02-12"), (Action.RAW2MASTER, "2013-02-11..2013-02-12")]
    assert sorted(s for a, s in events if a is Action.HIDE) == sorted([*masters, *masters])
    assert sorted(s for a, s in events if a is Action.SHOW) == sorted(masters)
    assert STATIC not in {s for _, s in events}
