"""The same cascade on this machine, on a real Slurm cluster and on a real HTCondor pool (DAGMan).

Slurm runs in every ``make test`` (a private cluster started for the session); HTCondor's tests
carry the ``condor`` mark and run in ``make test-condor`` (a personal pool in a trixie chroot).
Neither is ever skipped: an engine that cannot start fails the test with its reason.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from batch import SLEEP_RECIPE, batch_workspace, configure, remove_workspace, runs, summary
from chains import write_chain
from dfos.cascade.run import cascade_state, request_stop
from dfos.db import cascade_nodes, engine_for_url
from dfos.monitor.abmonitor import ab_page
from dfos.steps.cascade import exec_cascade
from dfos.steps.create_ab import create_abs
from dfos.steps.create_job import create_job
from dfos.steps.headers import extract_headers
from dfos.workspace import Workspace, open_workspace
from nights import BIAS, DAG, DARK, FLAT, NIGHT, ORDERPOS, RED_BIAS
from waiting import wait_until

SLURM = pytest.param("slurm", marks=pytest.mark.xdist_group("slurm"))
CONDOR = pytest.param("condor", marks=[pytest.mark.condor, pytest.mark.xdist_group("condor")])


def _engine(request: pytest.FixtureRequest, backend: str) -> None:
    if backend == "slurm":
        request.getfixturevalue("slurm_env")
    elif backend == "condor":
        request.getfixturevalue("condor_pool")


def _night(backend: str, base: Path, archive: Path) -> Workspace:
    """The small synthetic UVES night, associated and queued, in a workspace for ``backend``."""
    ws = batch_workspace(backend, base, NOW="2013-02-13T14:00:00")
    for source in archive.rglob("*.fits"):
        target = ws.archive_dir / source.relative_to(archive)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:  # another file system (the pool's workspaces live in /var/tmp)
            shutil.copyfile(source, target)
    extract_headers(ws, NIGHT)
    create_abs(ws, NIGHT, "CALIB")
    create_job(ws, NIGHT, "CALIB")
    return ws


@pytest.fixture
def night(request: pytest.FixtureRequest, tmp_path: Path, uves_small_archive: Path) -> Iterator[Workspace]:
    backend = request.param
    _engine(request, backend)
    ws = _night(backend, tmp_path, uves_small_archive)
    yield ws
    remove_workspace(ws)


@pytest.fixture(scope="session")
def local_reference(tmp_path_factory: pytest.TempPathFactory, uves_small_archive: Path) -> dict[str, object]:
    """The night's cascade on this machine: what every backend must reproduce."""
    ws = _night("local", tmp_path_factory.mktemp("reference"), uves_small_archive)
    assert exec_cascade(ws, DAG, ws.job_dir / f"execAB_{DAG}", slots=2).ok
    return summary(ws, DAG)


@pytest.mark.esorex
@pytest.mark.parametrize("night", [SLURM, CONDOR], indirect=True)
def test_the_uves_cascade_gives_the_same_products_and_run_records(night: Workspace,
                                                                  local_reference: dict[str, object]) -> None:
    result = exec_cascade(night, DAG, night.job_dir / f"execAB_{DAG}")
    assert result.ok and result.counts["succeeded"] == 5
    found = summary(night, DAG)
    assert found == local_reference
    rows = cascade_state(night, DAG)
    ran = [r for r in rows if r["state"] == "succeeded"]
    assert all(r["backend_id"] for r in ran)  # the batch job ids, shown by cascade-stat and the AB monitor
    assert len({r["backend_id"] for r in ran}) == 5
    shown = {row.name: (row.state, row.slot) for row in ab_page(night, NIGHT).rows}
    assert {name: shown[name] for name in shown if shown[name][0] == "succeeded"} == \
        {str(r["ab"]): ("succeeded", r["backend_id"]) for r in ran}


@pytest.mark.esorex
@pytest.mark.parametrize("night", ["local", SLURM, CONDOR], indirect=True)
def test_a_failing_ab_blocks_its_descendants_and_independent_branches_finish(night: Workspace) -> None:
    dark_frame = night.raw_dir / "2013-02-12" / "UVES.2013-02-12T19:41:08.500.fits"
    dark_frame.parent.mkdir(parents=True, exist_ok=True)
    dark_frame.write_bytes(b"SIMPLE  =                    T" + b" " * 50 + b"corrupted" * 300)
    result = exec_cascade(night, DAG, night.job_dir / f"execAB_{DAG}")
    assert not result.ok
    states = {r["ab"]: (r["state"], r["attempts"]) for r in cascade_state(night, DAG)}
    assert states[DARK] == ("failed", 1)
    assert states[FLAT] == ("blocked", 0)  # never started: no attempt counted ...
    records = {str(r["ab"]): r for r in runs(night)}
    assert FLAT not in records  # ... and no run
    assert records[DARK]["status"] == "FAILED" and records[DARK]["failure"] == "recipe_error"
    assert states[BIAS][0] == states[RED_BIAS][0] == states[ORDERPOS][0] == "succeeded"


# -- stop, resume, adoption: chains of sleeping ABs (no esorex needed) ------------------------------------

@pytest.fixture
def chain(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Workspace, Path]]:
    backend = request.param
    _engine(request, backend)
    # one job per AB: these follow the engines' own jobs (a resumed HTCondor round runs from its rescue DAG);
    # a resumed cascade would otherwise cluster the recipe it saw succeed (test_backend_clusters.py)
    ws = batch_workspace(backend, tmp_path, ESOREX=str(SLEEP_RECIPE), BATCH_CLUSTER=1)
    jobs = write_chain(ws, 4, 1.5)
    yield ws, jobs
    remove_workspace(ws)


def _state_of(ws: Workspace, ab: str) -> str:
    with engine_for_url(ws.db_url).begin() as db:
        row = db.execute(select(cascade_nodes.c.state).where(cascade_nodes.c.ab == ab)).first()
    return str(row[0]) if row else ""


def _wait_for(ws: Workspace, ab: str, state: str, limit: float = 120.0) -> None:
    wait_until(lambda: _state_of(ws, ab) == state, timeout=limit, interval=0.1, what=f"{ab} to become {state}")


def _run_counts(ws: Workspace) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in runs(ws):
        counts[str(r["ab"])] = counts.get(str(r["ab"]), 0) + 1
    return counts


@pytest.mark.parametrize("chain", ["local", SLURM, CONDOR], indirect=True)
def test_stop_lets_the_running_ab_finish_starts_nothing_new_and_resume_completes(
        chain: tuple[Workspace, Path]) -> None:
    ws, jobs = chain
    results = []
    runner = threading.Thread(target=lambda: results.append(exec_cascade(ws, "CALIB_2013-02-12", jobs)))
    runner.start()
    _wait_for(ws, "C0.ab", "running")
    request_stop(ws, "CALIB_2013-02-12")
    runner.join(timeout=180)
    assert not runner.is_alive()
    counts = results[0].counts
    assert counts["succeeded"] == 1 and counts["waiting"] == 3, counts
    assert _run_counts(ws) == {"C0.ab": 1}  # nothing behind the running AB started
    assert {r["ab"]: r["attempts"] for r in cascade_state(ws, "CALIB_2013-02-12")} == \
        {"C0.ab": 1, "C1.ab": 0, "C2.ab": 0, "C3.ab": 0}
    again = exec_cascade(ws, "CALIB_2013-02-12", jobs)
    assert again.ok and again.counts["succeeded"] == 4
    assert _run_counts(ws) == {f"C{i}.ab": 1 for i in range(4)}  # C0 did not run again
    if ws.settings.EXECUTOR == "condor":  # the second run is the first DAG again, run from its rescue DAG
        batch = ws.job_dir / "batch"
        assert sorted(p.name for p in batch.glob("*.r*.dag")) == ["CALIB_2013-02-12.r1.dag"]
        assert (batch / "CALIB_2013-02-12.r1.dag.rescue001").exists()
        clusters = {str(r["backend_id"]).split("/")[0] for r in cascade_state(ws, "CALIB_2013-02-12")}
        assert len(clusters) == 2


@pytest.mark.parametrize("chain", [SLURM, CONDOR], indirect=True)
def test_a_killed_dfos_adopts_the_jobs_it_had_submitted(chain: tuple[Workspace, Path]) -> None:
    ws, jobs = chain
    argv = [sys.executable, "-m", "dfos", "--root", str(ws.root), "exec-cascade", "--dag-id", "CALIB_2013-02-12",
            "--jobs", str(jobs)]
    first = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(ws, "C1.ab", "running")
    first.send_signal(signal.SIGKILL)
    first.wait()
    before = {r["ab"]: r["backend_id"] for r in cascade_state(ws, "CALIB_2013-02-12")}
    assert all(before.values())  # every job was submitted and its id stored before dfos died
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    after = {r["ab"]: r["backend_id"] for r in cascade_state(ws, "CALIB_2013-02-12")}
    assert after == before  # the same jobs, followed to their end: none submitted again
    assert _run_counts(ws) == {f"C{i}.ab": 1 for i in range(4)}
    assert all(r["state"] == "succeeded" and r["attempts"] == 1 for r in cascade_state(ws, "CALIB_2013-02-12"))


@pytest.mark.parametrize("chain", [SLURM], indirect=True)
def test_slurm_checks_requests_against_its_nodes_before_submitting(chain: tuple[Workspace, Path]) -> None:
    ws, jobs = chain
    configure(ws.root, BATCH_RESOURCES=f"*=1//, sleep1.5={(os.cpu_count() or 1) + 1}//")
    ws = open_workspace(ws.root, env={})
    from dfos.errors import DfosError

    with pytest.raises(DfosError, match=r"asks \d+ CPUs / 0 MB for sleep1.5, but the largest Slurm node has"):
        exec_cascade(ws, "CALIB_2013-02-12", jobs)
