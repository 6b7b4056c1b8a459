"""The cascade end to end with real esorex: products, run records, failures, and SIGKILL resumes."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest
from astropy.io import fits
from sqlalchemy import select

from dfos.ab.lists import read_ab_list
from dfos.db import ab_runs, engine_for_url
from dfos.steps.cascade import exec_cascade
from dfos.steps.create_ab import create_abs
from dfos.steps.create_job import create_job
from dfos.steps.headers import extract_headers
from dfos.steps.process_ab import load_ab
from dfos.workspace import Workspace, open_workspace
from nights import BIAS, DAG, DARK, FLAT, NIGHT, ORDERPOS, RED_BIAS
from waiting import wait_until

pytestmark = pytest.mark.esorex

RUNNABLE = [BIAS, RED_BIAS, DARK, ORDERPOS, FLAT]


@pytest.fixture
def queued(uves_night: Workspace) -> Workspace:
    ws = open_workspace(uves_night.root, env={"DFOS_NOW": "2013-02-13T14:00:00"})
    extract_headers(ws, NIGHT)
    create_abs(ws, NIGHT, "CALIB")
    create_job(ws, NIGHT, "CALIB")
    return ws


def runs(ws: Workspace) -> list[dict[str, object]]:
    with engine_for_url(ws.db_url).begin() as db:
        return [dict(r) for r in db.execute(select(ab_runs)).mappings()]


def test_the_blue_cascade_runs_end_to_end(queued: Workspace) -> None:
    result = exec_cascade(queued, DAG, queued.job_dir / f"execAB_{DAG}", slots=2)
    assert result.ok and result.counts["succeeded"] == 5 and result.counts["incomplete"] == 2
    expected = {BIAS: ["MASTER_BIAS_BLUE"], RED_BIAS: ["MASTER_BIAS_REDL", "MASTER_BIAS_REDU"],
                DARK: ["MASTER_DARK_BLUE"], ORDERPOS: ["ORDER_TABLE_BLUE"], FLAT: ["MASTER_FLAT_BLUE", "BKG_FLAT_BLUE"]}
    for name, catgs in expected.items():
        ab = load_ab(queued, name)
        assert ab.process_status.value == "SUCCESSFUL"
        for product, catg in zip(ab.products, catgs, strict=True):
            path = queued.expand(ab.prod_path) / product.name
            assert fits.getheader(path)["HIERARCH ESO PRO CATG"] == catg
    records = runs(queued)
    assert sorted(str(r["ab"]) for r in records) == sorted(RUNNABLE)
    for record in records:
        assert record["status"] == "SUCCESSFUL" and record["exit_code"] == 0
        assert isinstance(record["wall_s"], float) and record["max_rss_kb"]
        assert Path(str(record["log"])).is_file()
    done = {e.name for e in read_ab_list(queued.mon_dir / "AB_list_CALIB_2013-02-12") if e.done}
    assert done == set(RUNNABLE)
    assert not list((queued.ab_dir / ".work").iterdir())  # working directories of successes are gone


def test_a_failing_ab_blocks_its_descendants_only(queued: Workspace) -> None:
    raw = queued.raw_dir / "2013-02-12" / "UVES.2013-02-12T18:41:08.500.fits"  # not a frame of the night
    dark_frame = queued.raw_dir / "2013-02-12" / "UVES.2013-02-12T19:41:08.500.fits"
    dark_frame.parent.mkdir(parents=True, exist_ok=True)
    dark_frame.write_bytes(b"SIMPLE  =                    T" + b" " * 50 + b"corrupted" * 300)
    assert not raw.exists()
    result = exec_cascade(queued, DAG, queued.job_dir / f"execAB_{DAG}", slots=2)
    assert not result.ok
    states = {str(r["ab"]): r for r in runs(queued)}
    assert states[DARK]["status"] == "FAILED" and states[DARK]["failure"] == "recipe_error"
    assert str(states[DARK]["message"]).startswith("exit code ")
    from dfos.cascade.run import cascade_state

    by_ab = {r["ab"]: r["state"] for r in cascade_state(queued, DAG)}
    assert by_ab[DARK] == "failed" and by_ab[FLAT] == "blocked"
    assert by_ab[BIAS] == by_ab[ORDERPOS] == by_ab[RED_BIAS] == "succeeded"


def test_a_missing_raw_frame_is_a_missing_input(queued: Workspace) -> None:
    next(queued.archive_dir.rglob("UVES.2013-02-12T21:50:00.500.fits")).unlink()
    exec_cascade(queued, DAG, queued.job_dir / f"execAB_{DAG}", slots=2)
    failed = [r for r in runs(queued) if r["status"] == "FAILED"]
    assert [(r["ab"], r["failure"]) for r in failed] == [(ORDERPOS, "missing_input")]
    assert "UVES.2013-02-12T21:50:00.500.fits is neither in" in str(failed[0]["message"])


def _states(ws: Workspace) -> list[str]:
    from dfos.db import cascade_nodes

    with engine_for_url(ws.db_url).begin() as db:
        return [str(r.state) for r in db.execute(select(cascade_nodes.c.state))]


def _any_running(ws: Workspace) -> bool:
    from dfos.db import cascade_nodes

    with engine_for_url(ws.db_url).begin() as db:
        return db.execute(select(cascade_nodes.c.ab).where(cascade_nodes.c.state == "running")).first() is not None


def _in_flight_or_ended(ws: Workspace, proc: subprocess.Popen[bytes]) -> bool:
    return _any_running(ws) or proc.poll() is not None


def test_sigkill_at_random_points_then_resume(queued: Workspace, tmp_path: Path) -> None:
    rng = random.Random(20130212)
    template = tmp_path / "template"
    shutil.copytree(queued.root, template)
    cut_short = 0
    for attempt in range(20):
        root = tmp_path / f"run{attempt}"
        shutil.copytree(template, root)
        ws = open_workspace(root, env={})
        argv = [sys.executable, "-m", "dfos.cli.main", "--root", str(root), "exec-cascade", "--dag-id", DAG,
                "--jobs", str(ws.job_dir / f"execAB_{DAG}"), "--slots", "2"]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(partial(_in_flight_or_ended, ws, proc), timeout=30, interval=0.01,
                   what="the executor to have ABs in flight")
        time.sleep(rng.uniform(0.0, 0.3))  # then kill it at a random point of the cascade: the case tested
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        cut_short += any(state in ("running", "waiting") for state in _states(ws))
        result = exec_cascade(ws, DAG, ws.job_dir / f"execAB_{DAG}", slots=2)
        records = [(r["ab"], r["status"], r["attempt"], r["failure"], r["message"]) for r in runs(ws)]
        assert result.ok, (attempt, result.counts, records)
        successes = [str(r["ab"]) for r in runs(ws) if r["status"] == "SUCCESSFUL"]
        assert sorted(successes) == sorted(RUNNABLE), (attempt, records)  # each recipe succeeded exactly once
        left = [(str(p), sorted(f.name for f in p.rglob("*"))) for p in (ws.ab_dir / ".work").iterdir()]
        assert not left  # no working directory of a cut run is left
        shutil.rmtree(root)
    assert cut_short >= 10  # most kills really landed in the middle of cascades (ABs still to run)


def test_serial_mode_blocks_only_what_depends_on_a_failure(queued: Workspace) -> None:
    ws = open_workspace(queued.root, env={"DFOS_DRS_TYPE": "CPL"})
    create_job(ws, NIGHT, "CALIB")
    assert (ws.job_dir / f"execAB_{DAG}").read_text().splitlines()[2] == f"processAB -a {BIAS}"
    dark_frame = ws.raw_dir / "2013-02-12" / "UVES.2013-02-12T19:41:08.500.fits"
    dark_frame.parent.mkdir(parents=True, exist_ok=True)
    dark_frame.write_bytes(b"not a FITS file at all")
    exec_cascade(ws, DAG, ws.job_dir / f"execAB_{DAG}")
    from dfos.cascade.run import cascade_state

    states = {r["ab"]: r["state"] for r in cascade_state(ws, DAG)}
    assert states[DARK] == "failed" and states[FLAT] == "blocked"
    assert states[ORDERPOS] == states[RED_BIAS] == states[BIAS] == "succeeded"


def test_a_workspace_path_with_blanks(queued: Workspace, tmp_path: Path) -> None:
    spaced = tmp_path / "data disk" / "ws"
    shutil.copytree(queued.root, spaced)
    ws = open_workspace(spaced, env={})
    result = exec_cascade(ws, DAG, ws.job_dir / f"execAB_{DAG}", slots=2)
    records = [(r["ab"], r["failure"], r["message"]) for r in runs(ws) if r["status"] == "FAILED"]
    assert result.ok and result.counts["succeeded"] == 5, records


def test_timeouts_and_start_failures_are_classified(queued: Workspace, tmp_path: Path) -> None:
    from dfos.steps.process_ab import process_ab

    slow = tmp_path / "slow-esorex"
    slow.write_text("#!/bin/sh\nsleep 30\n")
    slow.chmod(0o755)
    run = process_ab(open_workspace(queued.root, env={"DFOS_ESOREX": str(slow), "DFOS_RECIPE_TIMEOUT": "0.5"}),
                     BIAS)
    assert (run.status, run.failure) == ("FAILED", "timeout") and run.wall_s < 10
    broken = tmp_path / "broken-esorex"
    broken.write_text("#!/nonexistent/interpreter\n")
    broken.chmod(0o755)
    run = process_ab(open_workspace(queued.root, env={"DFOS_ESOREX": str(broken)}), BIAS)
    assert (run.status, run.failure) == ("FAILED", "infrastructure")
    run = process_ab(open_workspace(queued.root, env={"DFOS_ESOREX": "no-such-esorex"}), BIAS)
    assert run.failure == "infrastructure" and "not found" in run.message


def test_an_older_kept_working_directory_of_the_same_attempt_is_replaced(queued: Workspace) -> None:
    from dfos.cascade.run import work_dir
    from dfos.steps.process_ab import process_ab

    work = work_dir(queued, DAG, BIAS, 1)
    work.mkdir(parents=True)
    (work / "stale.fits").write_bytes(b"from a failed run before the cascade was started afresh")
    run = process_ab(queued, BIAS, run_marker=f"{DAG}/{BIAS}/1", work_dir=work)
    assert run.ok, run.message
    assert not work.exists()  # the success removed it, stale file included


def test_an_ab_whose_executor_was_killed_before_its_qc_gets_its_qc_when_resumed(queued: Workspace) -> None:
    from dfos.db import ab_qc
    from killpoint import run_killed

    jobs = queued.job_dir / f"execAB_{DAG}"
    argv = ["--root", str(queued.root), "exec-cascade", "--dag-id", DAG, "--jobs", str(jobs), "--slots", "1"]
    killed = run_killed(argv, "dfos.steps.cascade:implicit_qc", when="before")  # the first AB's run is recorded
    assert killed.returncode == -9, killed.stderr[-2000:]
    (first,) = [str(r["ab"]) for r in runs(queued) if r["status"] == "SUCCESSFUL"]
    with engine_for_url(queued.db_url).begin() as db:
        assert not db.execute(select(ab_qc).where(ab_qc.c.ab == first)).first()  # its QC never ran
    result = exec_cascade(queued, DAG, jobs, slots=1)
    assert result.ok and result.recovered == (first,)
    with engine_for_url(queued.db_url).begin() as db:
        assert db.execute(select(ab_qc).where(ab_qc.c.ab == first)).first()  # now it has
    assert sorted(str(r["ab"]) for r in runs(queued) if r["status"] == "SUCCESSFUL") == sorted(RUNNABLE)
