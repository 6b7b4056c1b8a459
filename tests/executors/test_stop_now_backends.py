"""``stop-cascade --now`` on a batch system: the running and queued jobs are cancelled (Slurm: scancel; HTCondor:
the DAG halted, its node jobs removed with condor_rm), the ABs marked ``cancelled``; running the cascade again
(requeue) completes it, reusing what finished.  Sleeping ABs, no esorex.  The HTCondor test runs in
``make test-condor`` (``-m condor``)."""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from batch import SLEEP_RECIPE, batch_workspace, remove_workspace, runs
from chains import write_ab, write_chain, write_exec
from dfos.cascade.run import cascade_state
from dfos.cli.main import main
from dfos.executors.condor_dag import parse_dag, rescued
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


# -- HTCondor: the DAG halted, its node jobs removed (condor_rm), the finished work kept ---------------------------

@pytest.fixture
def condor_chain(condor_pool: None, tmp_path: Path) -> Iterator[tuple[Workspace, Path]]:
    ws = batch_workspace("condor", tmp_path, ESOREX=str(SLEEP_RECIPE), BATCH_CLUSTER=1)
    write_ab(ws, "C0.ab", (), "noop")  # C0 <- C1 <- C2: C0 ends at once, C1 would run for minutes
    write_ab(ws, "C1.ab", ("C0.ab",), "sleep300")
    write_ab(ws, "C2.ab", ("C1.ab",), "noop")
    yield ws, write_exec(ws, DAG, [("C0.ab", ()), ("C1.ab", ("C0.ab",)), ("C2.ab", ("C1.ab",))])
    remove_workspace(ws)


def _condor(*argv: str) -> list[list[str]]:
    """A condor command run in the pool; its output's lines as words."""
    from engines.condor_pool import condor_command

    done = subprocess.run([*shlex.split(condor_command()), *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [line.split() for line in done.stdout.splitlines() if line.strip()]


@pytest.mark.condor
@pytest.mark.xdist_group("condor")
def test_stop_now_removes_the_dag_s_node_jobs_and_requeue_completes(condor_chain: tuple[Workspace, Path]) -> None:
    ws, jobs = condor_chain
    results = []
    runner = threading.Thread(target=lambda: results.append(exec_cascade(ws, DAG, jobs)))
    runner.start()
    wait_until(lambda: _states(ws).get("C1.ab") == "running", timeout=180, interval=0.2, what="C1 to run")
    backend = {str(r["ab"]): str(r["backend_id"]) for r in cascade_state(ws, DAG)}
    dagman, _, node = backend["C1.ab"].partition("/")
    (job,) = _condor("condor_q", "-constraint", f"DAGManJobId == {dagman}", "-af", "ClusterId", "DAGNodeName")
    assert job[1] == node  # C1's node job, running in the pool

    cancelled = stop_now(ws, DAG)
    runner.join(timeout=180)
    assert not runner.is_alive() and not results[0].ok
    assert cancelled.abs == ("C1.ab", "C2.ab")
    assert _states(ws) == {"C0.ab": "succeeded", "C1.ab": "cancelled", "C2.ab": "cancelled"}
    reasons = {str(r["ab"]): str(r["reason"]) for r in cascade_state(ws, DAG)}
    assert "cancelled by stop-cascade --now" in reasons["C1.ab"]
    # condor_rm ended C1's job (not its recipe failing): removed, and nothing of the DAG is left in the queue,
    # no job held or removed; DAGMan wrote its rescue DAG with C0 done
    assert _condor("condor_history", "-constraint", f"ClusterId == {job[0]}", "-af", "JobStatus") == [["3"]]
    assert _condor("condor_q", "-constraint", f"ClusterId == {dagman} || DAGManJobId == {dagman}",
                   "-af", "ClusterId", "JobStatus") == []
    batch = ws.job_dir / "batch"
    assert rescued((batch / f"{DAG}.r1.dag.rescue001").read_text()) == {"C0.ab"}

    write_ab(ws, "C1.ab", ("C0.ab",), "noop")  # quick now
    assert requeue(ws, "2013-02-12") == (DAG, ("C1.ab", "C2.ab"))
    again = exec_cascade(ws, DAG, jobs)
    assert again.ok, cascade_state(ws, DAG)
    assert _states(ws) == {"C0.ab": "succeeded", "C1.ab": "succeeded", "C2.ab": "succeeded"}
    assert sorted(str(r["ab"]) for r in runs(ws) if r["status"] == "SUCCESSFUL") == ["C0.ab", "C1.ab", "C2.ab"]
    # the finished work is reused: the new round holds only the ABs left (C0 is neither run nor submitted again)
    assert {n.ab for n in parse_dag((batch / f"{DAG}.r2.dag").read_text()).nodes} == {"C1.ab", "C2.ab"}
    rounds = [line.split()[0] for line in (batch / f"{DAG}.rounds").read_text().splitlines()]
    assert rounds[0] == dagman and len(rounds) == 2
    everything = " || ".join(f"ClusterId == {c} || DAGManJobId == {c}" for c in rounds)
    wait_until(lambda: _condor("condor_q", "-constraint", everything, "-af", "ClusterId") == [], timeout=60,
               what="the second DAGMan to leave the queue")


@pytest.mark.condor
@pytest.mark.xdist_group("condor")
def test_stop_now_without_the_dfos_that_submitted_the_dag(condor_chain: tuple[Workspace, Path],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The exec-cascade that submitted the DAG was killed; DAGMan goes on.  The command line's --now removes the
    node jobs itself, marks the ABs at once, and requeue completes the cascade."""
    ws, jobs = condor_chain
    first = subprocess.Popen([sys.executable, "-m", "dfos", "--root", str(ws.root), "exec-cascade", "--dag-id", DAG,
                              "--jobs", str(jobs)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _states(ws).get("C1.ab") == "running", timeout=180, interval=0.2, what="C1 to run")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    dagman = str(next(r["backend_id"] for r in cascade_state(ws, DAG) if r["ab"] == "C1.ab")).partition("/")[0]
    assert main(["--root", str(ws.root), "stop-cascade", "--dag-id", DAG, "--now"]) == 0
    assert "2 running AB(s) cancelled (C1.ab, C2.ab)" in capsys.readouterr().out
    assert _states(ws) == {"C0.ab": "succeeded", "C1.ab": "cancelled", "C2.ab": "cancelled"}
    assert _condor("condor_q", "-constraint", f"ClusterId == {dagman} || DAGManJobId == {dagman}",
                   "-af", "ClusterId", "JobStatus") == []
    write_ab(ws, "C1.ab", ("C0.ab",), "noop")
    assert main(["--root", str(ws.root), "requeue", "-d", "2013-02-12"]) == 0
    assert "2 AB(s) queued again" in capsys.readouterr().out
    assert _states(ws) == {"C0.ab": "succeeded", "C1.ab": "succeeded", "C2.ab": "succeeded"}
