"""The runner with a batch executor, scripted: what it does with jobs that are lost or keep bouncing.

The executor here is a scripted stand-in (this tests the runner, the layer above the executors);
the real Slurm and HTCondor executors are tested live in tests/executors/test_backends.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar

import pytest
from sqlalchemy import insert, update

from chains import write_chain
from dfos.cascade.run import MAX_BOUNCES, cascade_state, forget_cascade, run_cascade
from dfos.db import ab_runs, cascade_nodes, engine_for_url
from dfos.errors import DfosError
from dfos.executors.base import Executor, Handle, Outcome, Task
from dfos.workspace import Workspace

DAG = "CALIB_2013-02-12"


class Scripted(Executor):
    """Answers each submitted task with the outcome ``script`` gives it, in submission order."""

    name: ClassVar[str] = "scripted"
    batch: ClassVar[bool] = True

    def __init__(self, script: Callable[[Task, int], Outcome]) -> None:
        self.script = script
        self.submitted: list[Task] = []
        self.queue: list[Outcome] = []

    def submit(self, task: Task, on_start: Callable[[Handle], None] | None = None) -> Handle:
        self.submitted.append(task)
        job = f"j{len(self.submitted)}"
        outcome = self.script(task, len([t for t in self.submitted if t.name == task.name]))
        self.queue.append(Outcome(outcome.name, outcome.ok, outcome.exit_code, outcome.wall_s, outcome.message, job,
                                  outcome.never_ran, outcome.lost))
        return Handle(task.name, job)

    def poll(self, timeout: float | None = None) -> list[Outcome]:
        return [self.queue.pop(0)] if self.queue else []

    def cancel(self, handles: Iterable[Handle]) -> None:
        gone = {h.backend_id for h in handles}
        self.queue = [o for o in self.queue if o.backend_id not in gone]


def test_a_lost_job_is_judged_by_its_run_record(workspace: Workspace) -> None:
    jobs = write_chain(workspace, 1, 0.0)
    with engine_for_url(workspace.db_url).begin() as db:
        db.execute(insert(ab_runs), [{"ab": "C0.ab", "batch_id": DAG, "recipe": "sleep0.0", "started": "x",
                                      "ended": "y", "status": "SUCCESSFUL", "exit_code": 0, "wall_s": 4.25,
                                      "dag_id": DAG, "attempt": 1}])
    executor = Scripted(lambda task, n: Outcome(task.name, False, None, 0.0, "purged", lost=True))
    result = run_cascade(workspace, DAG, jobs, executor)
    assert result.ok
    [row] = cascade_state(workspace, DAG)
    assert (row["state"], row["attempts"], row["exit_code"], row["wall_s"]) == ("succeeded", 1, 0, 4.25)


def test_a_lost_job_without_a_record_runs_again(workspace: Workspace) -> None:
    jobs = write_chain(workspace, 1, 0.0)
    executor = Scripted(lambda task, n: Outcome(task.name, False, None, 0.0, "purged", lost=True) if n == 1
                        else Outcome(task.name, True, 0, 1.0))
    assert run_cascade(workspace, DAG, jobs, executor).ok
    assert [(t.name, t.attempt) for t in executor.submitted] == [("C0.ab", 1), ("C0.ab", 2)]


def test_a_job_taken_out_of_the_queue_again_and_again_fails_in_the_end(workspace: Workspace) -> None:
    jobs = write_chain(workspace, 2, 0.0)
    executor = Scripted(lambda task, n: Outcome(task.name, False, None, 0.0, "removed", never_ran=True)
                        if task.name == "C0.ab" else Outcome(task.name, True, 0, 1.0))
    result = run_cascade(workspace, DAG, jobs, executor)
    assert result.counts["failed"] == 1 and result.counts["blocked"] == 1
    assert [t.name for t in executor.submitted].count("C0.ab") == MAX_BOUNCES + 1
    assert all(t.after == ("C0.ab",) for t in executor.submitted if t.name == "C1.ab")  # queued behind C0
    states = {r["ab"]: (r["state"], r["attempts"]) for r in cascade_state(workspace, DAG)}
    assert states == {"C0.ab": ("failed", 1), "C1.ab": ("blocked", 0)}


def test_queuing_anew_is_refused_while_a_killed_runner_s_jobs_are_queued(workspace: Workspace) -> None:
    jobs = write_chain(workspace, 1, 0.0)
    assert run_cascade(workspace, DAG, jobs, Scripted(lambda task, n: Outcome(task.name, True, 0, 1.0))).ok
    with engine_for_url(workspace.db_url).begin() as db:  # as a SIGKILLed runner leaves a queued job
        db.execute(update(cascade_nodes).values(state="submitted", backend_id="4711"))
    with pytest.raises(DfosError, match=r"still has 1 batch jobs queued .*job 4711.*dfos exec-cascade"):
        forget_cascade(workspace, DAG)


class Unreachable(Scripted):
    """A batch system that cannot be reached when the round is sent."""

    def flush(self) -> list[Handle]:
        raise DfosError("condor_submit_dag is not installed here")

    def submit(self, task: Task, on_start: Callable[[Handle], None] | None = None) -> Handle:
        self.submitted.append(task)
        return Handle(task.name, "")


def test_nothing_counts_as_submitted_when_the_batch_system_cannot_be_reached(workspace: Workspace) -> None:
    jobs = write_chain(workspace, 2, 0.0)
    for _ in range(2):
        with pytest.raises(DfosError, match="not installed"):
            run_cascade(workspace, DAG, jobs, Unreachable(lambda task, n: Outcome(task.name, True, 0, 1.0)))
        assert {(r["state"], r["attempts"], r["backend_id"]) for r in cascade_state(workspace, DAG)} == \
            {("waiting", 0, None)}
    forget_cascade(workspace, DAG)  # no job is queued anywhere: queuing anew is allowed


class RefusesSecond(Scripted):
    def submit(self, task: Task, on_start: Callable[[Handle], None] | None = None) -> Handle:
        if self.submitted:
            raise DfosError("sbatch refused the job of C1.ab: Invalid partition")
        return super().submit(task, on_start)


def test_a_refused_submission_keeps_the_jobs_already_queued_adoptable(workspace: Workspace) -> None:
    jobs = write_chain(workspace, 2, 0.0)
    with pytest.raises(DfosError, match="Invalid partition"):
        run_cascade(workspace, DAG, jobs, RefusesSecond(lambda task, n: Outcome(task.name, True, 0, 1.0)))
    states = {r["ab"]: (r["state"], r["attempts"], r["backend_id"]) for r in cascade_state(workspace, DAG)}
    assert states == {"C0.ab": ("submitted", 1, "j1"), "C1.ab": ("waiting", 0, None)}
