"""A graceful stop lets running ABs finish and starts nothing new; running again resumes."""

from __future__ import annotations

import threading
from pathlib import Path

from chains import write_chain
from dfos.cascade.run import cascade_state, request_stop
from dfos.steps.cascade import exec_cascade
from dfos.workspace import Workspace
from waiting import wait_until


def test_stop_then_resume(sleepy: Workspace) -> None:
    ws = sleepy
    jobs = write_chain(ws, 6, 0.3)
    results = []
    runner = threading.Thread(target=lambda: results.append(exec_cascade(ws, "CALIB_2013-02-12", jobs, slots=2)))
    runner.start()
    wait_until(lambda: "succeeded" in _states(ws, "CALIB_2013-02-12"), what="the chain's first AB to succeed")
    request_stop(ws, "CALIB_2013-02-12")
    runner.join(timeout=30)
    (first,) = results
    assert not first.ok
    assert 1 <= first.counts["succeeded"] <= 3 and first.counts["running"] == 0
    assert first.counts["waiting"] == 6 - first.counts["succeeded"]
    again = exec_cascade(ws, "CALIB_2013-02-12", jobs, slots=2)
    assert again.ok and again.counts["succeeded"] == 6
    assert all(row["attempts"] == 1 for row in cascade_state(ws, "CALIB_2013-02-12"))


def test_sigterm_cancels_running_recipes_and_keeps_them_queued(sleepy: Workspace) -> None:
    import signal
    import subprocess
    import sys

    ws = sleepy
    jobs = write_chain(ws, 3, 30)  # recipes that would take 30 s each
    env = {"DFOS_ESOREX": ws.settings.ESOREX, "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([sys.executable, "-m", "dfos.cli.main", "--root", str(ws.root), "exec-cascade",
                             "--dag-id", "TERMTEST_2013-02-12", "--jobs", str(jobs)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: any(r["state"] == "running" and r["backend_id"] for r in _rows(ws, "TERMTEST_2013-02-12")),
               timeout=30, what="a recipe of the cascade to run")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 11  # stopped before the end
    states = [r["state"] for r in cascade_state(ws, "TERMTEST_2013-02-12")]
    assert states == ["waiting"] * 3
    leftovers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _marked(p)]
    assert leftovers == []


def _rows(ws: Workspace, dag: str) -> list[dict[str, object]]:
    """The cascade's nodes; none while the cascade has not written its database yet."""
    try:
        return cascade_state(ws, dag)
    except Exception:  # the database is not there yet
        return []


def _states(ws: Workspace, dag: str) -> list[str]:
    return [str(row["state"]) for row in _rows(ws, dag)]


def _marked(proc: Path) -> bool:
    try:
        return b"DFOS_RUN=TERMTEST_2013-02-12/C" in (proc / "environ").read_bytes()  # this test's dag only
    except OSError:
        return False
