"""What a resumed executor clears of a killed one: cut runs go, failures stay for inspection."""

from __future__ import annotations

from dfos.cascade.run import _clear_leftovers, work_dir
from dfos.executors.local import LocalExecutor
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
    _clear_leftovers(workspace, DAG, {"A.ab": 2}, LocalExecutor())
    assert failed.is_dir() and other.is_dir()  # a failure's directory and another cascade's stay
    assert not cut.exists() and not (cut.parent / ".cut").exists()
