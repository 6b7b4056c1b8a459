"""A cascade waiting for ABs of another cascade, on a real Slurm cluster and a real HTCondor pool: its jobs are
submitted only once their parents in the other cascade succeeded (ABs whose recipe sleeps: no esorex needed)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from batch import SLEEP_RECIPE, batch_workspace, remove_workspace, runs
from chains import write_ab, write_exec
from dfos.cascade.run import CascadeResult, cascade_state
from dfos.steps.cascade import exec_cascade
from dfos.workspace import Workspace
from waiting import wait_until

SLURM = pytest.param("slurm", marks=pytest.mark.xdist_group("slurm"))
CONDOR = pytest.param("condor", marks=[pytest.mark.condor, pytest.mark.xdist_group("condor")])
CALIB, SCIENCE = "CALIB_2013-02-12", "SCIENCE_2013-02-12"


@pytest.fixture
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """A workspace whose cascades run on the backend, with a sleeping stand-in for esorex."""
    request.getfixturevalue("slurm_env" if request.param == "slurm" else "condor_pool")
    ws = batch_workspace(request.param, tmp_path, ESOREX=str(SLEEP_RECIPE))
    yield ws
    remove_workspace(ws)


def _cascades(ws: Workspace, failing: bool = False) -> tuple[Path, Path]:
    """The CALIB cascade C0 <- C1 (C1 fails for a raw frame that is nowhere when ``failing``) and the SCIENCE
    cascade S0 <- S1 (S0 waits for C1 of the CALIB cascade), S2 (waits for nothing)."""
    write_ab(ws, "C0.ab", (), "sleep0.5")
    write_ab(ws, "C1.ab", ("C0.ab",), "sleep0.5", raw=("UVES.2013-02-12T23:59:59.999.fits",) if failing else ())
    calib = write_exec(ws, CALIB, [("C0.ab", ()), ("C1.ab", ("C0.ab",))])
    for name, parents in (("S0.ab", ("C1.ab",)), ("S1.ab", ("S0.ab",)), ("S2.ab", ())):
        write_ab(ws, name, parents, "sleep0.5", batch_id=SCIENCE)
    science = write_exec(ws, SCIENCE, [("S0.ab", ("C1.ab",)), ("S1.ab", ("S0.ab",)), ("S2.ab", ())])
    return calib, science


def _rows(ws: Workspace) -> dict[str, dict[str, object]]:
    try:
        return {str(r["ab"]): r for r in cascade_state(ws, SCIENCE)}
    except Exception:  # not written yet
        return {}


def _start_science(ws: Workspace, science: Path) -> tuple[threading.Thread, list[CascadeResult]]:
    """The SCIENCE cascade in a thread, until S2 ran and S0 waits for C1 (and S0, S1 have no job)."""
    results: list[CascadeResult] = []
    thread = threading.Thread(target=lambda: results.append(exec_cascade(ws, SCIENCE, science)))
    thread.start()
    wait_until(lambda: (found := _rows(ws)) and found["S2.ab"]["state"] == "succeeded"
               and found["S0.ab"]["reason"] == "waiting for calibration C1.ab of CALIB_2013-02-12",
               timeout=180, what="S2 to succeed while S0 waits for C1")
    found = _rows(ws)
    assert thread.is_alive()
    assert [(found[n]["state"], found[n]["backend_id"]) for n in ("S0.ab", "S1.ab")] == [("waiting", None)] * 2
    return thread, results


@pytest.mark.parametrize("backend", [SLURM, CONDOR], indirect=True)
def test_the_science_jobs_are_submitted_once_their_calibration_succeeded(backend: Workspace) -> None:
    ws = backend
    calib, science = _cascades(ws)
    thread, results = _start_science(ws, science)
    assert exec_cascade(ws, CALIB, calib).ok
    thread.join(timeout=300)
    assert not thread.is_alive() and results[0].ok
    found = _rows(ws)
    assert all(r["state"] == "succeeded" and r["attempts"] == 1 and r["backend_id"] for r in found.values())
    assert sorted(str(r["ab"]) for r in runs(ws)) == ["C0.ab", "C1.ab", "S0.ab", "S1.ab", "S2.ab"]


@pytest.mark.parametrize("backend", [SLURM, CONDOR], indirect=True)
def test_a_failed_calibration_blocks_the_waiting_science_abs_without_a_job(backend: Workspace) -> None:
    ws = backend
    calib, science = _cascades(ws, failing=True)
    thread, results = _start_science(ws, science)
    assert not exec_cascade(ws, CALIB, calib).ok
    thread.join(timeout=300)
    assert not thread.is_alive() and not results[0].ok
    found = _rows(ws)
    assert [(found[n]["state"], found[n]["backend_id"]) for n in ("S0.ab", "S1.ab")] == [("blocked", None)] * 2
    assert str(found["S1.ab"]["reason"]).startswith("its calibration C1.ab failed in cascade CALIB_2013-02-12")
    assert sorted(str(r["ab"]) for r in runs(ws)) == ["C0.ab", "C1.ab", "S2.ab"]
