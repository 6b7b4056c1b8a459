"""Two cascades of the synthetic UVES night with real esorex, the second waiting for ABs of the first: the
flat's cascade is started first, waits for its bias, dark and order definition, and runs once they succeeded
in theirs; when the dark fails there, the flat is blocked with the reason and never runs."""

from __future__ import annotations

import threading

import pytest
from astropy.io import fits
from sqlalchemy import select

from dfos.cascade.run import CascadeResult, cascade_state
from dfos.db import ab_runs, engine_for_url
from dfos.jobs.model import ExecFile, ExecLine, render_exec
from dfos.steps.cascade import exec_cascade
from dfos.steps.create_ab import create_abs
from dfos.steps.headers import extract_headers
from dfos.steps.process_ab import load_ab
from dfos.workspace import Workspace, open_workspace
from nights import BIAS, DAG, DARK, FLAT, NIGHT, ORDERPOS, RED_BIAS
from waiting import wait_until

pytestmark = pytest.mark.esorex

LATE = "LATE_2013-02-12"
"""The second cascade: the flat alone, its parents in the night's cascade."""


@pytest.fixture
def split(uves_night: Workspace) -> Workspace:
    """The night associated, its cascade written as two execution files: execAB_CALIB_2013-02-12 without the flat,
    execAB_LATE_2013-02-12 with the flat only (waiting for ABs of the first)."""
    ws = open_workspace(uves_night.root, env={"DFOS_NOW": "2013-02-13T14:00:00"})
    extract_headers(ws, NIGHT)
    create_abs(ws, NIGHT, "CALIB")
    first = [ExecLine(BIAS), ExecLine(RED_BIAS), ExecLine(DARK, (BIAS,)), ExecLine(ORDERPOS)]
    (ws.job_dir / f"execAB_{DAG}").write_text(render_exec(ExecFile("CON", tuple(first))))
    assert load_ab(ws, FLAT).waitfor == (BIAS, DARK, ORDERPOS)
    (ws.job_dir / f"execAB_{LATE}").write_text(render_exec(ExecFile("CON", (ExecLine(FLAT, (BIAS, DARK, ORDERPOS)),))))
    return ws


def _flat_row(ws: Workspace) -> dict[str, object]:
    try:
        return next(r for r in cascade_state(ws, LATE) if r["ab"] == FLAT)
    except Exception:  # not written yet
        return {}


def _runs(ws: Workspace) -> dict[str, str]:
    with engine_for_url(ws.db_url).begin() as db:
        return {str(r.ab): str(r.status) for r in db.execute(select(ab_runs.c.ab, ab_runs.c.status))}


def _start_late(ws: Workspace) -> tuple[threading.Thread, list[CascadeResult]]:
    """The flat's cascade in a thread, until the flat waits for its calibrations and says so."""
    results: list[CascadeResult] = []
    thread = threading.Thread(target=lambda: results.append(exec_cascade(ws, LATE, ws.job_dir / f"execAB_{LATE}")))
    thread.start()
    wait_until(lambda: str(_flat_row(ws).get("reason") or "").startswith("waiting for calibrations"),
               what="the flat to wait for its calibrations")
    assert _flat_row(ws)["state"] == "waiting" and thread.is_alive()
    for name in (BIAS, DARK, ORDERPOS):
        assert name in str(_flat_row(ws)["reason"])
    return thread, results


def test_the_flat_s_cascade_waits_for_its_calibrations_then_runs(split: Workspace) -> None:
    thread, results = _start_late(split)
    assert FLAT not in _runs(split)
    assert exec_cascade(split, DAG, split.job_dir / f"execAB_{DAG}", slots=2).ok
    thread.join(timeout=300)
    assert not thread.is_alive()
    (late,) = results
    assert late.ok and late.counts["succeeded"] == 1 and sum(late.counts.values()) == 1
    row = _flat_row(split)
    assert (row["state"], row["attempts"], row["reason"]) == ("succeeded", 1, None)
    flat = load_ab(split, FLAT)
    assert flat.process_status.value == "SUCCESSFUL"
    product = split.expand(flat.prod_path) / flat.products[0].name
    assert fits.getheader(product)["HIERARCH ESO PRO CATG"] == "MASTER_FLAT_BLUE"


def test_a_failing_dark_blocks_the_waiting_flat_with_the_reason(split: Workspace) -> None:
    dark_frame = split.raw_dir / "2013-02-12" / "UVES.2013-02-12T19:41:08.500.fits"
    dark_frame.parent.mkdir(parents=True, exist_ok=True)
    dark_frame.write_bytes(b"SIMPLE  =                    T" + b" " * 50 + b"corrupted" * 300)
    thread, results = _start_late(split)
    assert not exec_cascade(split, DAG, split.job_dir / f"execAB_{DAG}", slots=2).ok
    thread.join(timeout=300)
    assert not thread.is_alive()
    (late,) = results
    assert not late.ok and late.counts["blocked"] == 1
    row = _flat_row(split)
    assert (row["state"], row["attempts"]) == ("blocked", 0)
    assert row["reason"] == (f"its calibration {DARK} failed in cascade {DAG}: once it succeeded, queue again with "
                             f"'dfos create-job -m CALIB -d 2013-02-12'")
    runs = _runs(split)
    assert runs[DARK] == "FAILED" and FLAT not in runs  # the flat never ran
