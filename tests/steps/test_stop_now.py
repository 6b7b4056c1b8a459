"""stop-cascade --now kills the running recipes (their process groups) and marks their ABs cancelled, not failed;
requeue runs them again and re-runs chosen ABs (and their descendants)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chains import write_chain
from dfos.cascade.run import cascade_state
from dfos.cli.main import main
from dfos.workspace import Workspace
from waiting import wait_until

DAG = "CALIB_2013-02-12"


def _states(ws: Workspace) -> dict[str, str]:
    try:
        return {str(r["ab"]): str(r["state"]) for r in cascade_state(ws, DAG)}
    except Exception:  # the database is not there yet
        return {}


def _marked(ws: Workspace) -> list[Path]:
    """This workspace's recipes of the cascade (another test's chain may run the same cascade id beside it)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            environ = (proc / "environ").read_bytes().split(b"\0") if proc.name.isdigit() else []
            if any(v.startswith(f"DFOS_RUN={DAG}/C".encode()) and v.endswith(f"@{ws.root}".encode()) for v in environ):
                found.append(proc)
        except OSError:
            continue
    return found


def test_stop_now_cancels_and_requeue_runs_again(sleepy: Workspace, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    ws = sleepy
    monkeypatch.setenv("DFOS_ESOREX", ws.settings.ESOREX)
    jobs = write_chain(ws, 2, 60)  # C0 <- C1, recipes that would sleep a minute
    env = {"DFOS_ESOREX": ws.settings.ESOREX, "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([sys.executable, "-m", "dfos.cli.main", "--root", str(ws.root), "exec-cascade",
                             "--dag-id", DAG, "--jobs", str(jobs)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _states(ws).get("C0.ab") == "running" and bool(_marked(ws)), timeout=30,
                   what="the first recipe to run")
        assert main(["--root", str(ws.root), "stop-cascade", "--dag-id", DAG, "--now"]) == 0
        assert "1 running AB(s) cancelled (C0.ab)" in capsys.readouterr().out
        assert proc.wait(timeout=30) == 11  # the executor ended without running C1
    finally:
        proc.kill()
    assert _states(ws) == {"C0.ab": "cancelled", "C1.ab": "waiting"}
    (row,) = [r for r in cascade_state(ws, DAG) if r["ab"] == "C0.ab"]
    assert "cancelled by stop-cascade --now" in str(row["reason"])
    assert _marked(ws) == []  # the recipe's process group is gone

    write_chain(ws, 2, 0, recipe="noop")  # the same ABs, quick now
    code = main(["--root", str(ws.root), "requeue", "-d", "2013-02-12"])
    assert code == 0, cascade_state(ws, DAG)
    out = capsys.readouterr().out
    assert "1 AB(s) queued again" in out and "2 succeeded" in out
    assert _states(ws) == {"C0.ab": "succeeded", "C1.ab": "succeeded"}

    # chosen ABs again: C1 alone, then C0 with what depends on it (succeeded ones re-run when chosen)
    assert main(["--root", str(ws.root), "requeue", "-d", "2013-02-12", "-a", "C1.ab", "--no-run"]) == 0
    assert _states(ws) == {"C0.ab": "succeeded", "C1.ab": "waiting"}
    assert main(["--root", str(ws.root), "requeue", "-d", "2013-02-12", "-a", "C0.ab", "--descendants"]) == 0
    assert "2 AB(s) queued again" in capsys.readouterr().out
    attempts = {str(r["ab"]): r["attempts"] for r in cascade_state(ws, DAG)}
    assert attempts == {"C0.ab": 3, "C1.ab": 2}, attempts  # C0: cut, requeued, with its descendant

    assert main(["--root", str(ws.root), "requeue", "-d", "2013-02-12", "-a", "NOPE.ab"]) == 2
    assert main(["--root", str(ws.root), "requeue", "-d", "2013-02-12", "-a", "a\nb"]) == 2
    assert main(["--root", str(ws.root), "requeue", "-d", "2013-02-12"]) == 3  # nothing cancelled or blocked
