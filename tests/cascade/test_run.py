"""What a resumed executor clears of a killed one: cut runs go, failures stay for inspection."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from dfos.cascade.run import _clear_leftovers, work_dir
from dfos.workspace import Workspace

DAG = "CALIB_2013-02-12"


def test_cut_runs_are_removed_failed_ones_kept(workspace: Workspace) -> None:
    failed = work_dir(workspace, DAG, "A.ab", 1)
    cut = work_dir(workspace, DAG, "A.ab", 2)
    other = work_dir(workspace, "CALIB_2013-02-13", "A.ab", 2)
    for path in (failed, cut, other):
        (path / "out").mkdir(parents=True)
        (path / "esorex.log").write_text("log\n", encoding="utf-8")
    assert cut.name == "A.2" and cut.parent.name == DAG
    _clear_leftovers(workspace, DAG, {"A.ab": 2})
    assert failed.is_dir() and other.is_dir()  # a failure's directory and another cascade's stay
    assert not cut.exists() and not (cut.parent / ".cut").exists()


def test_leftover_recipes_of_this_cascade_only_are_ended(workspace: Workspace) -> None:
    def start(marker: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "DFOS_RUN": marker}
        return subprocess.Popen(["sleep", "60"], env=env, start_new_session=True)

    mine = start(f"{DAG}/A.ab/2@{workspace.root}")
    other_cascade = start(f"CALIB_2013-02-13/A.ab/2@{workspace.root}")
    other_workspace = start(f"{DAG}/A.ab/2@/somewhere/else")
    try:
        time.sleep(0.1)  # the environment is readable once sleep runs
        _clear_leftovers(workspace, DAG, {"A.ab": 2})
        assert mine.wait(timeout=10) == -signal.SIGKILL
        assert other_cascade.poll() is None and other_workspace.poll() is None
    finally:
        for proc in (mine, other_cascade, other_workspace):
            proc.kill()
            proc.wait()
