"""Clusters of short ABs in one job, on a real Slurm cluster and a real HTCondor pool (docs/batch.md, "Clusters"):
a failure is the failing AB's alone, a child runs only after its parent in the same job, a stop starts nothing new,
and a SIGKILLed dfos adopts the cluster jobs (ABs whose recipe only sleeps: no esorex needed)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from batch import SLEEP_RECIPE, batch_workspace, ran_before, remove_workspace, runs
from chains import write_ab, write_chain, write_exec
from dfos.ab.lists import ABList, write_ab_list
from dfos.ab.store import read_ab
from dfos.cascade.run import cascade_state, request_stop
from dfos.keys import Mode, ProcessingKey
from dfos.monitor.abmonitor import ab_page
from dfos.steps.cascade import exec_cascade
from dfos.workspace import Workspace
from waiting import wait_until

SLURM = pytest.param("slurm", marks=pytest.mark.xdist_group("slurm"))
CONDOR = pytest.param("condor", marks=[pytest.mark.condor, pytest.mark.xdist_group("condor")])
DAG = "CALIB_2013-02-12"


@pytest.fixture
def ws(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    request.getfixturevalue("slurm_env" if request.param == "slurm" else "condor_pool")
    ws = batch_workspace(request.param, tmp_path, ESOREX=str(SLEEP_RECIPE), BATCH_CLUSTER=10)
    yield ws
    remove_workspace(ws)


def _rows(ws: Workspace) -> dict[str, dict[str, object]]:
    try:
        return {str(r["ab"]): r for r in cascade_state(ws, DAG)}
    except Exception:  # not written yet
        return {}


def _run_counts(ws: Workspace) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in runs(ws):
        if r["dag_id"] == DAG:
            counts[str(r["ab"])] = counts.get(str(r["ab"]), 0) + 1
    return counts


@pytest.mark.parametrize("ws", [SLURM, CONDOR], indirect=True)
def test_a_failure_in_a_cluster_job_is_reported_for_the_failing_ab_alone(ws: Workspace) -> None:
    ran_before(ws, "sleep0.2", 0.2)
    missing = ("UVES.2013-02-12T23:59:59.999.fits",)  # a raw frame that is nowhere: B fails (missing input)
    lines = [("A.ab", ()), ("B.ab", ()), ("C.ab", ()), ("D.ab", ("B.ab",)), ("E.ab", ("A.ab",))]
    for name, parents in lines:
        write_ab(ws, name, parents, "sleep0.2", raw=missing if name == "B.ab" else ())
    write_ab_list(ws.ab_list(Mode.CALIB, ProcessingKey.parse("2013-02-12")),
                  [ABList.of(read_ab(ws.ab_dir, name)) for name, _ in lines])
    result = exec_cascade(ws, DAG, write_exec(ws, DAG, lines))
    assert not result.ok
    rows = _rows(ws)
    assert {n: (r["state"], r["attempts"]) for n, r in rows.items()} == {
        "A.ab": ("succeeded", 1), "B.ab": ("failed", 1), "C.ab": ("succeeded", 1), "D.ab": ("blocked", 0),
        "E.ab": ("succeeded", 1)}
    assert "depends on B.ab" in str(rows["D.ab"]["reason"])
    records = {str(r["ab"]): r for r in runs(ws) if r["dag_id"] == DAG}
    assert sorted(records) == ["A.ab", "B.ab", "C.ab", "E.ab"]  # D never ran: no record
    assert records["B.ab"]["status"] == "FAILED" and records["B.ab"]["failure"] == "missing_input"
    assert rows["B.ab"]["exit_code"] == records["B.ab"]["exit_code"]
    jobs = {r["backend_id"] for r in rows.values() if r["state"] != "blocked"}
    assert len(jobs) == 1  # one engine job ran the five ABs (E after A, in the job) ...
    shown = {row.name: row.slot for row in ab_page(ws, "2013-02-12").rows}
    assert shown["A.ab"] == shown["E.ab"] == rows["A.ab"]["backend_id"]  # ... and the AB monitor names it


@pytest.fixture
def chain(ws: Workspace) -> tuple[Workspace, Path]:
    ran_before(ws, "sleep1.5", 1.5)
    return ws, write_chain(ws, 4, 1.5)


@pytest.mark.parametrize("ws", [SLURM, CONDOR], indirect=True)
def test_a_stop_lets_the_running_ab_of_a_cluster_finish_and_starts_nothing_new(chain: tuple[Workspace, Path]) -> None:
    ws, jobs = chain
    results = []
    runner = threading.Thread(target=lambda: results.append(exec_cascade(ws, DAG, jobs)))
    runner.start()
    wait_until(lambda: (_rows(ws).get("C0.ab") or {}).get("state") == "running", timeout=120, interval=0.1,
               what="C0 to run")
    assert len({r["backend_id"] for r in _rows(ws).values()}) == 1  # the chain is one job, in its order
    request_stop(ws, DAG)
    runner.join(timeout=180)
    assert not runner.is_alive()
    assert results[0].counts["succeeded"] == 1 and results[0].counts["waiting"] == 3, results[0].counts
    assert _run_counts(ws) == {"C0.ab": 1}
    assert {n: r["attempts"] for n, r in _rows(ws).items()} == {"C0.ab": 1, "C1.ab": 0, "C2.ab": 0, "C3.ab": 0}
    again = exec_cascade(ws, DAG, jobs)
    assert again.ok and again.counts["succeeded"] == 4
    assert _run_counts(ws) == {f"C{i}.ab": 1 for i in range(4)}


@pytest.mark.parametrize("ws", [SLURM, CONDOR], indirect=True)
def test_a_killed_dfos_adopts_its_cluster_job(chain: tuple[Workspace, Path]) -> None:
    ws, jobs = chain
    argv = [sys.executable, "-m", "dfos", "--root", str(ws.root), "exec-cascade", "--dag-id", DAG, "--jobs", str(jobs)]
    first = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: (_rows(ws).get("C1.ab") or {}).get("state") == "running", timeout=120, interval=0.1,
               what="C1 to run")
    first.send_signal(signal.SIGKILL)
    first.wait()
    before = {n: r["backend_id"] for n, r in _rows(ws).items()}
    assert len(set(before.values())) == 1 and all(before.values())
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = _rows(ws)
    assert {n: r["backend_id"] for n, r in rows.items()} == before  # the same job, followed to its end
    assert _run_counts(ws) == {f"C{i}.ab": 1 for i in range(4)}
    assert all(r["state"] == "succeeded" and r["attempts"] == 1 for r in rows.values())
