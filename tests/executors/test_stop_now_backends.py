"""``stop-cascade --now`` on a batch system: the running and queued jobs are cancelled (scancel), the ABs marked
``cancelled``; running the cascade again (requeue) completes it.  Sleeping ABs, no esorex."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from batch import SLEEP_RECIPE, batch_workspace, remove_workspace
from chains import write_chain
from dfos.cascade.run import cascade_state
from dfos.steps.cascade import exec_cascade
from dfos.steps.todo import requeue, stop_now
from dfos.workspace import Workspace
from waiting import wait_until

DAG = "CALIB_2013-02-12"


@pytest.fixture
def slurm_chain(slurm_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Workspace, Path]]:
    ws = batch_workspace("slurm", tmp_path, ESOREX=str(SLEEP_RECIPE), BATCH_CLUSTER=1)
    yield ws, write_chain(ws, 2, 60)  # C0 <- C1, a minute each
    remove_workspace(ws)


def _states(ws: Workspace) -> dict[str, str]:
    try:
        return {str(r["ab"]): str(r["state"]) for r in cascade_state(ws, DAG)}
    except Exception:  # the database is not there yet
        return {}


@pytest.mark.xdist_group("slurm")
def test_stop_now_cancels_the_slurm_jobs(slurm_chain: tuple[Workspace, Path]) -> None:
    ws, jobs = slurm_chain
    results = []
    runner = threading.Thread(target=lambda: results.append(exec_cascade(ws, DAG, jobs)))
    runner.start()
    wait_until(lambda: _states(ws).get("C0.ab") == "running", timeout=120, interval=0.1, what="C0 to run")
    cancelled = stop_now(ws, DAG)
    runner.join(timeout=120)
    assert not runner.is_alive() and not results[0].ok
    assert "C0.ab" in cancelled.abs
    states = _states(ws)
    assert states["C0.ab"] == "cancelled" and states["C1.ab"] in ("cancelled", "waiting"), states
    write_chain(ws, 2, 0, recipe="noop")
    requeue(ws, "2013-02-12")
    assert exec_cascade(ws, DAG, jobs).ok
    assert _states(ws) == {"C0.ab": "succeeded", "C1.ab": "succeeded"}
