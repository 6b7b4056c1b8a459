"""Running cascades with the embedded executor (``dfos exec-cascade`` and friends)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dfos.ab.model import ProcessStatus
from dfos.ab.store import read_ab
from dfos.cascade.run import CascadeResult, cascade_state, run_cascade, work_dir
from dfos.dates import parse_date
from dfos.executors.base import Task
from dfos.executors.local import LocalExecutor
from dfos.steps.create_ab import tag_done
from dfos.steps.process_ab import process_ab, record_run, set_process_status
from dfos.workspace import Workspace

__all__ = ["exec_cascade"]


def exec_cascade(workspace: Workspace, dag_id: str, jobs: Path, slots: int | None = None,
                 progress: Callable[[dict[str, int]], None] | None = None) -> CascadeResult:
    """Run a cascade on this machine; every AB runs processAB in-process and is recorded."""

    def run_ab(task: Task, on_start: Callable[[int], None]) -> tuple[bool, int | None, str]:
        run = process_ab(workspace, task.name, threads=task.threads, on_start=on_start,
                         run_marker=f"{task.dag_id}/{task.name}/{task.attempt}",
                         work_dir=work_dir(workspace, task.dag_id, task.name, task.attempt))
        record_run(workspace, run, task.dag_id, task.attempt)
        return run.ok, run.exit_code, run.message

    executor = LocalExecutor(run_ab)
    try:
        result = run_cascade(workspace, dag_id, jobs, executor, slots, progress)
    finally:
        executor.close()
    # Succeeded ABs are tagged DONE once, at the end (also those recovered from a crashed run):
    # createAB and createJob leave them alone from now on.  An AB file whose PROCESS_STATUS a power
    # cut lost (it is written without fsync; the database is written first) is set right here.
    ended = {str(r["ab"]): r["state"] for r in cascade_state(workspace, dag_id) if r["state"] in _FINAL}
    batches: dict[str, set[str]] = {}
    for name, state in ended.items():
        ab = read_ab(workspace.ab_dir, name)
        if ab.process_status is not _FINAL[state]:
            set_process_status(workspace, ab, _FINAL[state])
        if state == "succeeded":
            batches.setdefault(ab.batch_id, set()).add(name)
    for batch, names in batches.items():
        mode, _, day = batch.partition("_")
        tag_done(workspace, mode, parse_date(day), names)
    return result


_FINAL = {"succeeded": ProcessStatus.SUCCESSFUL, "failed": ProcessStatus.FAILED}
