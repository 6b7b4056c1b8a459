"""Running cascades with the embedded executor (``dfos exec-cascade`` and friends).

An execAB file runs processAB per AB (with QCBQS_TYPE IMPLICIT, processQC follows each success in
the same task); an execQC file (SER, PAR) runs processQC per AB, as the QC cascade
``QC_<MODE>_<DATE>``.  An AB whose executor was killed after its run was recorded (its success is learned
from that record when the cascade resumes) gets its IMPLICIT processQC then: it may not have run.  An IMPLICIT
processQC that fails does not fail its AB, but it is said: in the
AB's QC log, in the message of the AB's run record (``ab_runs.message``: ``processQC failed: ...``)
and, for ``dfos process-ab``, by its exit status.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from dfos.ab.lists import tag_done
from dfos.ab.model import ProcessStatus
from dfos.ab.store import read_ab
from dfos.cascade.events import CascadeProgress
from dfos.cascade.run import CascadeResult, cascade_state, run_cascade, work_dir
from dfos.config.settings import QcbqsType
from dfos.errors import DfosError
from dfos.executors.base import Executor, Task
from dfos.executors.local import ABRunner
from dfos.executors.registry import dfos_command, get_executor
from dfos.keys import BatchId
from dfos.steps.process_ab import Failure, process_ab, record_run, set_process_status
from dfos.workspace import Workspace

__all__ = ["batch_command", "exec_cascade", "implicit_qc", "make_executor", "run_cascade_ab", "run_qc_task"]

_QC_KINDS = ("SER", "PAR", "IMPLICIT")


def run_qc_task(workspace: Workspace, name: str) -> tuple[bool, int | None, str]:
    """processQC of one AB as a cascade task: (ok, exit code, message)."""
    # processQC (astropy, numpy) is imported when QC runs: a batch job of processAB starts its recipe sooner
    from dfos.steps.process_qc import process_qc, write_qc_problem

    try:
        result = process_qc(workspace, name)
    except DfosError as exc:
        write_qc_problem(workspace, name, exc.message)
        return False, None, exc.message
    return True, 0, f"{result.n_params} QC1 parameters, score {result.score.summaries.get(name, '0/0')}"


def implicit_qc(workspace: Workspace, name: str) -> str:
    """QCBQS_TYPE IMPLICIT: processQC right after a successful processAB; its trouble never fails the AB
    (the message says what went wrong, '' when all went well)."""
    if workspace.settings.QCBQS_TYPE != QcbqsType.IMPLICIT:
        return ""
    from dfos.steps.process_qc import write_qc_problem

    try:
        ok, _, message = run_qc_task(workspace, name)
    except Exception as exc:
        message = f"processQC broke: {type(exc).__name__}: {exc}"
        with contextlib.suppress(OSError):
            write_qc_problem(workspace, name, message)
        ok = False
    if ok:
        return ""
    trouble = f"processQC failed: {' '.join(message.split())[:1000]}"
    with contextlib.suppress(Exception):  # the run record only repeats what the QC log says
        _note_on_run(workspace, name, trouble)
    return trouble


def _note_on_run(workspace: Workspace, name: str, note: str) -> None:
    """Add a note to the message of the AB's newest run record."""
    from sqlalchemy import func, select, update

    from dfos.db import ab_runs, engine_for_url

    with engine_for_url(workspace.db_url).begin() as db:
        newest = db.execute(select(func.max(ab_runs.c.id)).where(ab_runs.c.ab == name)).scalar()
        if newest is not None:
            old = db.execute(select(ab_runs.c.message).where(ab_runs.c.id == newest)).scalar() or ""
            db.execute(update(ab_runs).where(ab_runs.c.id == newest).values(message=f"{old}; {note}" if old else note))


def run_cascade_ab(workspace: Workspace, name: str, dag_id: str, attempt: int, threads: int = 1,
                   on_start: Callable[[int], None] | None = None) -> tuple[bool, int | None, str]:
    """One attempt of an AB of a cascade, wherever it runs (a local worker thread, a Slurm or HTCondor
    job through ``dfos process-ab --dag-id --attempt``): its own working directory, its run marker,
    its run record, QC when IMPLICIT.  Returns (ok, exit code, message)."""
    run = process_ab(workspace, name, threads=threads, on_start=on_start,
                     run_marker=f"{dag_id}/{name}/{attempt}", work_dir=work_dir(workspace, dag_id, name, attempt))
    record_run(workspace, run, dag_id, attempt)
    message = implicit_qc(workspace, name) if run.ok else run.message
    return run.ok, run.exit_code, message


def batch_command(workspace: Workspace) -> list[str]:
    """How a batch job starts dfos on this workspace: BATCH_DFOS (else the dfos running now) --root ROOT."""
    return dfos_command(workspace)


def make_executor(workspace: Workspace, name: str, run_ab: ABRunner) -> Executor:
    """The executor called ``name`` (local, slurm, condor or a plugin's), set up from the workspace's
    configuration (:mod:`dfos.executors.registry`)."""
    return get_executor(name).make(workspace, run_ab)


def exec_cascade(workspace: Workspace, dag_id: str, jobs: Path, slots: int | None = None,
                 progress: Callable[[CascadeProgress], None] | None = None,
                 executor_name: str | None = None) -> CascadeResult:
    """Run a cascade with the configured executor (EXECUTOR, or ``executor_name``): on this machine every
    AB runs processAB (or processQC) in-process; on Slurm or HTCondor each is a batch job running
    ``dfos process-ab``.  Every run is recorded the same way."""
    def run_ab(task: Task, on_start: Callable[[int], None]) -> tuple[bool, int | None, str]:
        if task.argv[0] == "processQC":
            return run_qc_task(workspace, task.name)
        return run_cascade_ab(workspace, task.name, task.dag_id, task.attempt, task.threads, on_start)

    executor = make_executor(workspace, executor_name or workspace.settings.EXECUTOR, run_ab)
    try:
        result = run_cascade(workspace, dag_id, jobs, executor, slots, progress)
    finally:
        executor.close()
    for name in result.recovered:  # killed between an AB's run record and the end of its task: its QC again
        implicit_qc(workspace, name)
    if result.kind in _QC_KINDS or not sum(result.counts.values()):
        return result  # a QC cascade, or an empty execution file: nothing to tag DONE
    # Succeeded ABs are tagged DONE once, at the end (also those recovered from a crashed run):
    # createAB and createJob leave them alone from now on.  An AB file whose PROCESS_STATUS a power
    # cut lost (it is written without fsync; the database is written first) is set right here.
    ended = {str(r["ab"]): r["state"] for r in cascade_state(workspace, dag_id) if r["state"] in _FINAL}
    # an AB whose last attempt failed for the infrastructure (a full disk) keeps its status: it never ran to the end
    kept = _infrastructure_failures(workspace, dag_id, [n for n, s in ended.items() if s == "failed"])
    batches: dict[str, set[str]] = {}
    for name, state in ended.items():
        ab = read_ab(workspace.ab_dir, name)
        if ab.process_status is not _FINAL[state] and name not in kept:
            set_process_status(workspace, ab, _FINAL[state])
        if state == "succeeded":
            batches.setdefault(ab.batch_id, set()).add(name)
    for batch_id, names in batches.items():
        batch = BatchId.parse(batch_id)
        tag_done(workspace.ab_list(batch.mode, batch.key), names)
    return result


_FINAL = {"succeeded": ProcessStatus.SUCCESSFUL, "failed": ProcessStatus.FAILED}


def _infrastructure_failures(workspace: Workspace, dag_id: str, names: list[str]) -> set[str]:
    """Those of ``names`` whose newest run in cascade ``dag_id`` failed for the infrastructure."""
    if not names:
        return set()
    from sqlalchemy import func, select

    from dfos.db import ab_runs, engine_for_url

    newest = (select(ab_runs.c.ab, func.max(ab_runs.c.id).label("id"))
              .where(ab_runs.c.dag_id == dag_id, ab_runs.c.ab.in_(names)).group_by(ab_runs.c.ab).subquery())
    with engine_for_url(workspace.db_url).connect() as db:
        rows = db.execute(select(ab_runs.c.ab, ab_runs.c.failure).join(newest, ab_runs.c.id == newest.c.id)).all()
    return {str(r.ab) for r in rows if r.failure == Failure.INFRASTRUCTURE}
